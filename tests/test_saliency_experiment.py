"""experiments.saliency end to end (smoke config: small CNN on 8x8 digits).

The MobileNetV2 part of the smoke config is left out here (``models``): its
eight compilations take about a CPU minute. The real run exercises it.
"""

import functools
import json

import jax
import numpy as np
import pytest

from configs import saliency as saliency_config
from experiments import common
from experiments import inputs
from experiments import saliency
from jaxviz import attribution
from jaxviz import models
from jaxviz.models import taps

def _smoke_config(tmp_path):
  config = saliency_config.get_config("smoke")
  config.models = ("small_cnn",)
  config.cnn_workdir = str(tmp_path / "cnn")  # trained once, shared by both runs
  return config


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("saliency")
  config = _smoke_config(root)
  return [(common.execute(saliency.run, config, root / name), root / name)
          for name in ("first", "second")]


def test_files_and_summary(runs):
  summary, workdir = runs[0]
  assert (workdir / "saliency_small_cnn.png").stat().st_size > 20_000
  on_disk = json.loads((workdir / "summary.json").read_text())
  assert on_disk["methods"] == list(saliency.METHODS)
  assert on_disk["rectifiers_rewritten"] == {"small_cnn": 3}  # conv1, conv2, fc1 ReLUs
  assert on_disk["models"] == ["small_cnn"] and on_disk["skipped"] == {}
  assert set(on_disk["seconds"]["small_cnn"]) == set(saliency.METHODS)
  assert on_disk["config"]["small_cnn"]["gradcam_layer"] == "conv2"
  assert summary["methods"] == on_disk["methods"]
  assert not list(workdir.glob("*.tmp")) and not list(workdir.glob(".*.tmp"))


def test_npz_maps(runs):
  _, workdir = runs[0]
  arrays = np.load(workdir / "saliency_small_cnn.npz")
  assert set(arrays.files) == set(saliency.METHODS) | {"images", "targets"}
  images, targets = arrays["images"], arrays["targets"]
  assert images.shape == (2, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
  assert targets.shape == (2,) and np.issubdtype(targets.dtype, np.integer)
  assert np.all((targets >= 0) & (targets < 10))
  for method in saliency.METHODS:
    m = arrays[method]
    assert m.shape == (2, 8, 8), method
    assert np.all(np.isfinite(m)), method
    assert np.all(np.abs(m).reshape(2, -1).max(axis=1) > 0), f"{method} has an all-zero map"
    if method != "occlusion":  # Only occlusion keeps a sign (the score drop).
      assert m.min() >= 0, method


def test_maps_equal_direct_library_calls_on_the_same_inputs(runs):
  _, workdir = runs[0]
  config = _smoke_config(workdir.parent)
  settings = config.small_cnn
  arrays = np.load(workdir / "saliency_small_cnn.npz")
  model, params, meta = models.load_trained(config.cnn_workdir)
  test = inputs.load_test_split(config.cnn_train)
  idx = inputs.pick_test_images(test.labels, settings.num_images)
  x = meta.preprocess(test.images[idx])
  np.testing.assert_allclose(arrays["images"], meta.deprocess(x))
  f = functools.partial(model.apply, {"params": params})
  t = np.argmax(np.asarray(f(x)), axis=-1).astype(np.int32)
  np.testing.assert_array_equal(arrays["targets"], t)
  layer_fn = taps.flax_layer_fn(model, {"params": params}, settings.gradcam_layer)
  reduce = attribution.reduce_channels
  expected = {
      "gradient": attribution.saliency_map(f, x, t),
      "guided_backprop": attribution.saliency_map(f, x, t, rule="guided_backprop"),
      "deconvnet": attribution.saliency_map(f, x, t, rule="deconvnet"),
      "grad_cam": attribution.grad_cam(layer_fn, x, t),
      "smoothgrad": reduce(attribution.smoothgrad(
          attribution.input_gradients, f, x, t, key=jax.random.key(config.seed),
          num_samples=settings.smoothgrad_samples, noise_level=settings.smoothgrad_noise,
          chunk_size=settings.smoothgrad_chunk)),
      "integrated_gradients": reduce(attribution.integrated_gradients(
          f, x, t, baseline=np.zeros(1, np.float32), steps=settings.ig_steps,
          chunk_size=settings.ig_chunk)),
      "occlusion": attribution.occlusion(f, x, t, patch=settings.occlusion_patch,
                                         stride=settings.occlusion_stride, fill=0.0),
  }
  for method, want in expected.items():
    np.testing.assert_allclose(arrays[method], np.asarray(want), rtol=1e-5, atol=1e-6,
                               err_msg=method)


def test_two_runs_give_identical_arrays(runs):
  first = np.load(runs[0][1] / "saliency_small_cnn.npz")
  second = np.load(runs[1][1] / "saliency_small_cnn.npz")
  for name in first.files:
    np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_display_maps_are_unit_scaled():
  maps = {"occlusion": np.array([[[-2.0, 0.0], [1.0, 4.0]]], np.float32),
          "gradient": np.array([[[0.0, 1.0], [2.0, 3.0]]], np.float32)}
  shown = saliency.display_maps(maps, percentile=100.0)
  np.testing.assert_allclose(shown["occlusion"], [[[0.0, 0.0], [0.25, 1.0]]], atol=1e-6)
  np.testing.assert_allclose(shown["gradient"], [[[0.0, 1 / 3], [2 / 3, 1.0]]], atol=1e-6)


def test_pick_test_images_one_per_class():
  labels = np.array([3, 1, 1, 0, 3, 2, 0])
  np.testing.assert_array_equal(inputs.pick_test_images(labels, 3), [1, 3, 5])  # 0, 1, 2
  with pytest.raises(ValueError, match=r"\[1, 4\]"):
    inputs.pick_test_images(labels, 5)


@pytest.mark.parametrize("field, value, match", [
    ("methods", ("gradient", "lime"), "config.methods"),
    ("models", ("vgg16",), "config.models"),
    ("reduction", "mean", "config.reduction"),
    ("percentile", 0.0, "config.percentile"),
])
def test_bad_config_fails_before_any_work(tmp_path, field, value, match):
  config = _smoke_config(tmp_path)
  setattr(config, field, value)
  with pytest.raises(ValueError, match=match):
    saliency.run(config, tmp_path / "out")
  assert not (tmp_path / "cnn").exists()
