"""experiments.segmentation end to end (smoke config, no assets) and its helpers."""

import functools
import json
import sys

import jax
import numpy as np
import pytest
import scipy.ndimage

from configs import segmentation as segmentation_config
from experiments import inputs
from experiments import segmentation
from jaxviz import attribution
from jaxviz import models
from jaxviz.attribution import segmentation as segmentation_lib
from tests import helpers

try:
  import cv2  # pylint: disable=g-import-not-at-top,unused-import
  HAS_CV2 = True
except ImportError:
  HAS_CV2 = False
needs_cv2 = pytest.mark.skipif(not HAS_CV2, reason="OpenCV missing: pip install -e .[segment]")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
  """The smoke config run twice into two workdirs (one model)."""
  config = segmentation_config.get_config("smoke")
  return config, helpers.smoke_runs_on_one_cnn(segmentation.run, config,
                                               tmp_path_factory.mktemp("segmentation"))


@needs_cv2
def test_smoke_run_writes_figure_arrays_and_statistics(two_runs):
  config, (out, _) = two_runs
  assert (out / "segmentation.png").stat().st_size > 5_000
  assert not list(out.glob(".*.tmp"))
  arrays = np.load(out / "segmentation.npz")
  images, saliency, masks = arrays["images"], arrays["saliency"], arrays["masks"]
  assert images.shape == (2, 8, 8, 3) and images.dtype == np.uint8
  assert saliency.shape == (2, 8, 8) and saliency.dtype == np.float32 and saliency.min() >= 0
  assert masks.shape == (2, 8, 8) and masks.dtype == bool
  # Gray digits repeated to RGB for GrabCut.
  np.testing.assert_array_equal(images[..., 0], images[..., 2])
  # One 8-connected component (the paper's largest-component step) that holds
  # foreground seeds (the top 5% most salient pixels).
  for s, m in zip(saliency, masks):
    assert scipy.ndimage.label(m, structure=np.ones((3, 3)))[1] == 1
    assert m[s >= np.quantile(s, config.fg_quantile)].any()

  summary = json.loads((out / "summary.json").read_text())
  assert summary["model"] == "small_cnn" and "SmoothGrad (4 samples" in summary["saliency"]
  assert [r["file"] for r in summary["images"]] == list(arrays["files"])
  area = masks.mean(axis=(1, 2))
  mass = (saliency * masks).sum(axis=(1, 2)) / saliency.sum(axis=(1, 2))
  for i, record in enumerate(summary["images"]):
    assert 0 < record["mask_area_fraction"] <= 1 and 0 < record["saliency_mass_in_mask"] <= 1
    np.testing.assert_allclose(record["mask_area_fraction"], area[i], rtol=1e-6)
    np.testing.assert_allclose(record["saliency_mass_in_mask"], mass[i], rtol=1e-5)
    np.testing.assert_allclose(record["saliency_concentration"], mass[i] / area[i], rtol=1e-5)
  np.testing.assert_allclose(summary["mean_saliency_mass_in_mask"], mass.mean(), rtol=1e-5)
  np.testing.assert_allclose(summary["mean_mask_area_fraction"], area.mean(), rtol=1e-6)


@needs_cv2
def test_saliency_is_smoothgrad_of_the_top1_gradient(two_runs):
  config, (out, _) = two_runs
  arrays = np.load(out / "segmentation.npz")
  model, params, meta = models.load_trained(config.cnn_workdir)
  x = meta.preprocess(arrays["images"][..., :1])
  logits = model.apply({"params": params}, x)
  np.testing.assert_array_equal(arrays["targets"], np.argmax(logits, axis=-1))
  f = functools.partial(model.apply, {"params": params})
  grads = attribution.smoothgrad(attribution.input_gradients, f, x, arrays["targets"],
                                 key=jax.random.key(config.seed), num_samples=4,
                                 noise_level=config.noise_level, chunk_size=config.chunk_size)
  np.testing.assert_allclose(arrays["saliency"], attribution.reduce_channels(grads), rtol=1e-4,
                             atol=1e-6)


@needs_cv2
def test_the_config_seed_reaches_grabcut(two_runs, tmp_path, monkeypatch):
  config = two_runs[0].copy_and_resolve_references()
  seeds = []
  real = segmentation_lib.saliency_grabcut

  def recording(*args, **kwargs):
    seeds.append(kwargs["seed"])
    return real(*args, **kwargs)

  monkeypatch.setattr(segmentation_lib, "saliency_grabcut", recording)
  config.seed = 7
  segmentation.run(config, tmp_path)
  assert seeds == [7, 7]  # one GrabCut per image, each with the config's seed


@needs_cv2
def test_same_config_gives_identical_arrays(two_runs):
  _, (a, b) = two_runs
  first, second = np.load(a / "segmentation.npz"), np.load(b / "segmentation.npz")
  assert sorted(first.files) == ["files", "images", "masks", "saliency", "targets"]
  for name in first.files:
    np.testing.assert_array_equal(first[name], second[name])


def test_mask_statistics_on_a_known_map():
  saliency = np.zeros((1, 4, 4))
  saliency[0, :2, :2] = 3.0  # 12 units in the top-left quarter
  saliency[0, 3, 3] = 4.0  # 4 units outside it
  masks = np.zeros((1, 4, 4), bool)
  masks[0, :2, :2] = True
  stats = segmentation.mask_statistics(saliency, masks)
  np.testing.assert_allclose(stats["mask_area_fraction"], [0.25])
  np.testing.assert_allclose(stats["saliency_mass_in_mask"], [0.75])
  np.testing.assert_allclose(stats["saliency_concentration"], [3.0])


def test_missing_opencv_is_a_clear_error_before_any_work(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, "cv2", None)  # `import cv2` now raises ImportError.
  with pytest.raises(ImportError, match=r"pip install -e \.\[segment\]"):
    segmentation.run(segmentation_config.get_config("smoke"), tmp_path)
  assert not list(tmp_path.iterdir())


def test_unknown_photo_file_lists_the_available_ones(tmp_path):
  folder = tmp_path / "photos"
  folder.mkdir()
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "a.png")
  images, names = inputs.load_photos(str(folder), ("a.png",))
  assert names == ["a.png"] and images[0].shape == (4, 4, 3)
  with pytest.raises(ValueError, match=r"\['b.png'\] not in .*; available: \['a.png'\]"):
    inputs.load_photos(str(folder), ("b.png",))
