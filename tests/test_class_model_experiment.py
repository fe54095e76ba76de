"""experiments.class_model end to end (smoke config: small CNN on 8x8 digits)."""

import json

import jax
import numpy as np
import pytest

from configs import class_model as class_model_config
from experiments import class_model
from jaxviz import models
from jaxviz import synthesis
from tests import helpers

PRESETS = ("simonyan", "lucid_fixed_size")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("class_model")
  config = class_model_config.get_config("smoke")
  return config, helpers.smoke_runs_on_one_cnn(class_model.run, config, root)


def test_files_and_summary_keys(runs):
  config, (workdir, _) = runs
  assert tuple(config.small_cnn.presets) == PRESETS
  assert (workdir / "class_model_small_cnn.png").stat().st_size > 20_000
  summary = json.loads((workdir / "summary.json").read_text())
  names = [str(d) for d in range(10)]  # the digits' class names
  for key in ("target_probability", "target_is_argmax"):
    assert list(summary[key]) == ["small_cnn"] and list(summary[key]["small_cnn"]) == names
  probabilities = np.array(list(summary["target_probability"]["small_cnn"].values()))
  assert np.all((probabilities > 0) & (probabilities < 1))
  assert summary["transfer_probability"] == {}  # only for the MobileNetV2 images
  assert set(summary["presets"]["small_cnn"]) == set(PRESETS)
  for numbers in summary["presets"]["small_cnn"].values():
    assert numbers["in_range"] and numbers["steps"] == 8
    assert 0 <= numbers["mean_high_frequency_energy"] <= 1
  assert summary["models"] == ["small_cnn"] and summary["skipped"] == {}
  assert isinstance(summary["targets_met"]["small_cnn"], bool)
  assert not list(workdir.glob(".*.tmp"))


def test_same_config_same_arrays(runs):
  _, (first, second) = runs
  a, b = np.load(first / "class_model_small_cnn.npz"), np.load(second / "class_model_small_cnn.npz")
  assert set(a.files) == set(b.files)
  for name in a.files:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_images_and_numbers_equal_direct_library_calls(runs):
  config, (workdir, _) = runs
  arrays = np.load(workdir / "class_model_small_cnn.npz")
  np.testing.assert_array_equal(arrays["classes"], np.arange(10))
  model, params, meta = models.load_trained(config.cnn_workdir)
  preset = synthesis.preset("lucid_fixed_size", meta).replace(steps=8)
  fn = synthesis.layer_fn(model, {"params": params}, None, (1, 8, 8, 1))
  result = synthesis.ascend(fn, synthesis.Objective("logit"), meta.logit_index(np.arange(10)),
                            preset.parameterize(meta, 10), jax.random.key(config.seed),
                            preset.config)
  images = arrays["images_lucid_fixed_size"]
  assert images.shape == (10, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
  np.testing.assert_allclose(images, meta.deprocess(result.images), atol=1e-6)
  f = lambda x: model.apply({"params": params}, x)
  probability, is_argmax = synthesis.class_probabilities(f, result.images, np.arange(10))
  np.testing.assert_allclose(arrays["probability_lucid_fixed_size"], probability, rtol=1e-5)
  np.testing.assert_array_equal(arrays["is_argmax_lucid_fixed_size"], is_argmax)
  assert arrays["objective_simonyan"].shape == (8, 10)


@pytest.mark.parametrize("field, value, match", [
    ("small_cnn.presets", ("simonyan", "deepdream"), "small_cnn.presets"),
    ("small_cnn.regularized", "lucid", "small_cnn.regularized"),
    ("models", ("resnet",), "config.models"),
])
def test_bad_config_fails_before_any_work(tmp_path, field, value, match):
  config = class_model_config.get_config("smoke")
  *parents, name = field.split(".")
  node = config
  for parent in parents:
    node = node[parent]
  node[name] = value
  with pytest.raises(ValueError, match=match):
    class_model.run(config, tmp_path)
  assert not list(tmp_path.iterdir())


def test_unknown_class_names_suggest_close_matches():
  meta = models.ModelMeta("m", (8, 8, 3), (0.5,) * 3, (0.5,) * 3,
                          ("goose", "ostrich, Struthio camelus", "cup"))
  np.testing.assert_array_equal(class_model.class_indices(("cup", "ostrich"), meta), [2, 1])
  with pytest.raises(ValueError, match="'gose'.*goose"):
    class_model.class_indices(("gose",), meta)
