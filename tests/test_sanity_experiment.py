"""experiments.sanity end to end (smoke config, no assets) and its layer grouping."""

import functools
import json

import jax
import numpy as np
import pytest
import scipy.stats

from configs import sanity as sanity_config
from experiments import sanity
from jaxviz import checkpoint
from jaxviz import models
from jaxviz.attribution import cam
from jaxviz.attribution import gradients
from jaxviz.attribution import sanity as sanity_lib
from jaxviz.models import taps
from tests import helpers

LAYERS = ["logits", "fc1", "conv2", "conv1"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
  """The smoke config run twice into two workdirs (one model)."""
  config = sanity_config.get_config("smoke")
  return config, helpers.smoke_runs_on_one_cnn(sanity.run, config, tmp_path_factory.mktemp("sanity"))


def test_smoke_run_writes_figure_arrays_and_correlations(two_runs):
  config, (out, _) = two_runs
  assert (out / "sanity_small_cnn_0.png").stat().st_size > 20_000
  assert not list(out.glob(".*.tmp"))
  summary = json.loads((out / "summary.json").read_text())
  correlations = summary["rank_correlation"]
  assert list(correlations) == list(sanity.METHODS) == list(config.methods)
  for method, values in correlations.items():
    assert list(values) == LAYERS, method
    assert all(-1.0 <= v <= 1.0 for v in values.values()), (method, values)
  assert summary["rank_correlation_by_model"] == {"small_cnn": correlations}
  assert summary["randomized_layers_by_model"] == {"small_cnn": {k: [k] for k in LAYERS}}
  assert len(summary["images_by_model"]["small_cnn"]) == 2

  arrays = np.load(out / "sanity_small_cnn.npz")
  assert list(arrays["layers"]) == ["original"] + LAYERS
  assert arrays["images"].shape == (2, 8, 8, 1) and arrays["images"].dtype == np.uint8
  for method in config.methods:
    maps = arrays[f"maps_{method}"]
    assert maps.shape == (5, 2, 8, 8) and maps.min() >= 0  # |attribution|
    np.testing.assert_allclose(arrays[f"rank_correlation_{method}"],
                               list(correlations[method].values()), rtol=1e-6)
    # The reported value is the batch mean of Spearman's rho against the original map.
    for layer, randomized in zip(LAYERS, maps[1:]):
      rho = [scipy.stats.spearmanr(maps[0, i].ravel(), randomized[i].ravel()).statistic
             for i in range(2)]
      np.testing.assert_allclose(correlations[method][layer], np.mean(rho), rtol=1e-4,
                                 atol=1e-5)
  # The trained model's maps are what the library computes directly.
  model, params, meta = models.load_trained(config.cnn_workdir)
  x = meta.preprocess(arrays["images"])
  f = functools.partial(model.apply, {"params": params})
  np.testing.assert_array_equal(arrays["targets"], np.argmax(f(x), axis=-1))
  grads = gradients.input_gradients(f, x, arrays["targets"])
  np.testing.assert_allclose(arrays["maps_gradient"][0], sanity_lib.reduce_map(grads),
                             rtol=1e-5, atol=1e-7)
  layer_fn = taps.flax_layer_fn(model, {"params": params}, config.small_cnn.cam_layer)
  np.testing.assert_allclose(arrays["maps_grad_cam"][0], cam.grad_cam(layer_fn, x,
                                                                       arrays["targets"]),
                             rtol=1e-5, atol=1e-6)


def test_same_config_gives_identical_arrays(two_runs):
  _, (a, b) = two_runs
  first, second = np.load(a / "sanity_small_cnn.npz"), np.load(b / "sanity_small_cnn.npz")
  assert len(first.files) == 3 + 2 * len(sanity.METHODS)
  for name in first.files:
    np.testing.assert_array_equal(first[name], second[name])


MOBILENET_TOP_DOWN = ["Logits", "Conv_1", "expanded_conv_16", "expanded_conv_15",
                      "expanded_conv_14", "expanded_conv_13", "expanded_conv_12", "Conv"]


def test_cascade_groups_cover_every_layer_above_each_checkpoint():
  groups = sanity.cascade_groups(MOBILENET_TOP_DOWN, ["Logits", "Conv_1", "expanded_conv_13"])
  assert groups == {"Logits": ["Logits"], "Conv_1": ["Conv_1"],
                    "expanded_conv_13": ["expanded_conv_16", "expanded_conv_15",
                                         "expanded_conv_14", "expanded_conv_13"]}
  with pytest.raises(ValueError, match=r"Unknown layer\(s\) \['conv9'\].*Conv_1"):
    sanity.cascade_groups(MOBILENET_TOP_DOWN, ["Logits", "conv9"])
  with pytest.raises(ValueError, match="ordered from the top"):
    sanity.cascade_groups(MOBILENET_TOP_DOWN, ["Conv_1", "Logits"])
  with pytest.raises(ValueError, match="distinct"):
    sanity.cascade_groups(MOBILENET_TOP_DOWN, ["Logits", "Logits"])


def test_randomizing_a_group_randomizes_every_layer_above_the_checkpoint():
  params = {name: {"w": np.full((4,), i + 1.0)} for i, name in enumerate(MOBILENET_TOP_DOWN)}
  groups = sanity.cascade_groups(MOBILENET_TOP_DOWN, ["Logits", "expanded_conv_14"])
  grouped = sanity.group_params(params, groups)
  # The groups are the "layers" cascading_randomization sees; the rest stay trained.
  assert set(grouped) == {"Logits", "expanded_conv_14", "expanded_conv_13", "expanded_conv_12",
                          "Conv"}
  assert sanity.ungroup_params(grouped, groups) == params
  randomized = dict(grouped)
  randomized["expanded_conv_14"] = jax.tree.map(lambda w: -w, grouped["expanded_conv_14"])
  flat = sanity.ungroup_params(randomized, groups)
  changed = [name for name in MOBILENET_TOP_DOWN
             if not np.array_equal(flat[name]["w"], params[name]["w"])]
  assert changed == ["Conv_1", "expanded_conv_16", "expanded_conv_15", "expanded_conv_14"]


def test_undefined_correlations_become_null(caplog):
  out = sanity.undefined_as_none({"grad_cam": {"logits": 0.5, "conv1": float("nan")}}, "cnn")
  assert out == {"grad_cam": {"logits": 0.5, "conv1": None}}
  assert "('grad_cam', 'conv1')" in caplog.text


@pytest.mark.parametrize("change, match", [
    ({"methods": ("gradient", "lrp")}, r"Unknown or no methods \['gradient', 'lrp'\]"),
    ({"methods": ()}, "Unknown or no methods"),
    ({"models": ("small_cnn", "vgg16")}, r"Model\(s\) \['vgg16'\] have no settings"),
    ({"models": ()}, "empty"),
])
def test_bad_config_fails_before_any_work(tmp_path, change, match):
  config = sanity_config.get_config("smoke")
  for key, value in change.items():
    setattr(config, key, value)
  with pytest.raises(ValueError, match=match):
    sanity.run(config, tmp_path)
  assert not list(tmp_path.iterdir())
