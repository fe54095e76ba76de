"""experiments.neuron end to end (smoke config: small CNN on 8x8 digits)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import neuron as neuron_config
from experiments import common
from experiments import neuron
from jaxviz import checkpoint
from jaxviz import models
from jaxviz.models import taps

LAYERS = ("conv1", "conv2")


def _smoke_config(tmp_path):
  config = neuron_config.get_config("smoke")
  config.cnn_workdir = str(tmp_path / "cnn")  # trained once, shared by both runs
  return config


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("neuron")
  config = _smoke_config(root)
  return [(common.execute(neuron.run, config, root / name), root / name, root / "cnn")
          for name in ("first", "second")]


def test_files_and_summary(runs):
  _, workdir, _ = runs[0]
  figures = sorted(workdir.glob("neuron_small_cnn_*.png"))
  assert len(figures) == 2 and all(f.stat().st_size > 10_000 for f in figures)
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["layers"] == {"small_cnn": list(LAYERS)}
  assert summary["rectifiers_rewritten"] == {"small_cnn": {"conv1": 3, "conv2": 3}}
  assert summary["models"] == ["small_cnn"] and summary["skipped"] == {}
  arrays = np.load(workdir / "neuron_small_cnn.npz")
  for layer in LAYERS:
    per_image = summary["channels"]["small_cnn"][layer]
    assert len(per_image) == 2
    np.testing.assert_array_equal(np.array(list(per_image.values())), arrays[f"channels_{layer}"])
  assert not list(workdir.glob(".*.tmp"))


def test_npz_maps(runs):
  _, workdir, _ = runs[0]
  arrays = np.load(workdir / "neuron_small_cnn.npz")
  assert list(arrays["layers"]) == list(LAYERS)
  assert arrays["images"].shape == (2, 8, 8, 1)
  for layer, num_channels in zip(LAYERS, (4, 8)):
    grads, channels, means = (arrays[f"{f}_{layer}"] for f in ("grads", "channels", "means"))
    assert grads.shape == (2, 3, 8, 8, 1)
    assert np.all(np.isfinite(grads))
    assert np.all(np.abs(grads).reshape(6, -1).max(axis=1) > 0), "an all-zero map"
    assert channels.shape == (2, 3) and channels.min() >= 0 and channels.max() < num_channels
    assert all(len(set(row)) == 3 for row in channels.tolist())
    assert np.all(np.diff(means, axis=1) <= 0)  # strongest first


def test_channels_and_maps_match_a_direct_computation(runs):
  """Top channels by mean activation; conv1's guided map is the plain gradient.

  conv1 is the first layer: between the input and its mean activation there
  is only its own ReLU, where the incoming gradient (1 / positions) is
  positive, so guided backprop equals the gradient of the channel mean.
  """
  _, workdir, cnn_dir = runs[0]
  arrays = np.load(workdir / "neuron_small_cnn.npz")
  model, params, meta = models.load_trained(cnn_dir)
  variables = {"params": params}
  x = jnp.asarray(meta.preprocess(np.round(arrays["images"] * 255)))

  @jax.jit
  def means_and_grads(x):  # [B, H, W, 1] -> [B, C], [B, C, H, W, 1]
    def channel_means(image):
      return taps.activations(model, variables, image[None], ["conv1"])["conv1"][0].mean((0, 1))
    return jax.vmap(channel_means)(x), jax.vmap(jax.jacrev(channel_means))(x)

  means, grads = (np.asarray(a) for a in means_and_grads(x))
  top = np.argsort(-means, axis=1, kind="stable")[:, :3]  # ties: lower index first, as top_k
  np.testing.assert_array_equal(arrays["channels_conv1"], top)
  np.testing.assert_allclose(arrays["means_conv1"], np.take_along_axis(means, top, 1), rtol=1e-5)
  expected = np.take_along_axis(grads, top[:, :, None, None, None], axis=1)
  np.testing.assert_allclose(arrays["grads_conv1"], expected, rtol=1e-4, atol=1e-6)


def test_two_runs_give_identical_arrays(runs):
  first = np.load(runs[0][1] / "neuron_small_cnn.npz")
  second = np.load(runs[1][1] / "neuron_small_cnn.npz")
  assert first.files == second.files
  for name in first.files:
    np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_signed_display():
  grads = np.array([[[[-2.0, 0.0, 1.0]], [[4.0, 0.0, -4.0]]]], np.float32)  # [1, 2, 1, 3]
  shown = neuron.signed_display(grads, percentile=100.0)
  np.testing.assert_allclose(shown, [[[[0.25, 0.5, 0.625]], [[1.0, 0.5, 0.0]]]])


@pytest.mark.parametrize("field, value, match", [
    ("models", ("resnet",), "config.models"),
    ("rule", "lrp", "config.rule"),
    ("percentile", 101.0, "config.percentile"),
])
def test_bad_config_fails_before_any_work(tmp_path, field, value, match):
  config = _smoke_config(tmp_path)
  setattr(config, field, value)
  with pytest.raises(ValueError, match=match):
    neuron.run(config, tmp_path / "out")
  assert not (tmp_path / "cnn").exists()
