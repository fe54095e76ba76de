"""Tests for jaxviz.attribution.segmentation and its figure."""

import sys

import numpy as np
from PIL import Image
import pytest
import scipy.ndimage

from jaxviz import data
from jaxviz.attribution import segmentation
from jaxviz.attribution.segmentation import saliency_grabcut
from jaxviz.plotting.attribution_extras import segmentation_figure

pytest.importorskip("cv2")


def _disc_scene(size=64, center=(30, 36), radius=14, seed=0):
  """A red disc on a textured green background, and its disc indicator."""
  rng = np.random.default_rng(seed)
  rows, cols = np.mgrid[:size, :size]
  disc = (rows - center[0])**2 + (cols - center[1])**2 <= radius**2
  stripes = 40 * (np.sin(cols / 2.0) > 0)[..., None]
  background = np.array([40, 130, 60]) + stripes * np.array([0.3, 1.0, 0.2])
  image = np.where(disc[..., None], np.array([200, 50, 60]), background)
  image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
  return image, disc


def _iou(a, b):
  return (a & b).sum() / (a | b).sum()


def test_grabcut_recovers_the_disc_from_blurred_saliency():
  image, disc = _disc_scene()
  rng = np.random.default_rng(1)
  saliency = scipy.ndimage.gaussian_filter(disc.astype(float), 4) + 0.05 * rng.random(disc.shape)
  mask = saliency_grabcut(image, saliency)
  assert mask.dtype == bool and mask.shape == disc.shape
  assert _iou(mask, disc) > 0.8
  # The seeds alone cover far less of the disc than GrabCut does.
  seeds = saliency >= np.quantile(saliency, 0.95)
  assert _iou(seeds, disc) < 0.5


def test_the_seed_decides_grabcuts_colour_model_initialisation():
  # A photo with a blurred random saliency map: GrabCut's k-means start
  # (OpenCV's RNG, seeded by `seed`) changes the mask.
  image = data.resize([data.skimage_image("astronaut")], (64, 64))[0]
  saliency = scipy.ndimage.gaussian_filter(np.random.default_rng(0).random((64, 64)), 4)
  masks = [saliency_grabcut(image, saliency, seed=s, iterations=1) for s in (0, 1, 1)]
  assert (masks[0] != masks[1]).sum() >= 10  # another seed, another mask
  np.testing.assert_array_equal(masks[1], masks[2])  # the same seed, the same mask


def test_largest_component_drops_a_salient_speck():
  image, disc = _disc_scene()
  image[2:6, 2:6] = [200, 50, 60]  # A small disc-coloured square far from the disc.
  saliency = scipy.ndimage.gaussian_filter(disc.astype(float), 4)
  saliency[2:6, 2:6] = 1.0
  with_speck = saliency_grabcut(image, saliency, largest_component=False)
  assert with_speck[2:6, 2:6].all()
  mask = saliency_grabcut(image, saliency)
  assert not mask[2:6, 2:6].any() and _iou(mask, disc) > 0.8


@pytest.mark.parametrize("kwargs, match", [
    ({"image": np.zeros((8, 8, 3), np.float32)}, "uint8"),
    ({"image": np.zeros((8, 8), np.uint8)}, r"\[H, W, 3\]"),
    ({"saliency": np.zeros((8, 9))}, r"\[H, W\] = \(8, 8\)"),
    ({"saliency": np.full((8, 8), np.nan)}, "finite"),
    ({"saliency": np.ones((8, 8))}, "too flat"),
    ({"fg_quantile": 0.2}, "bg_quantile < fg_quantile"),
    ({"iterations": 0}, "iterations"),
])
def test_validation(kwargs, match):
  args = {"image": np.zeros((8, 8, 3), np.uint8),
          "saliency": np.arange(64, dtype=float).reshape(8, 8)}
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    saliency_grabcut(args.pop("image"), args.pop("saliency"), **args)


def test_missing_opencv_names_the_extra(monkeypatch):
  monkeypatch.setitem(sys.modules, "cv2", None)
  with pytest.raises(ImportError, match=r"pip install -e \.\[segment\]"):
    segmentation.saliency_grabcut(np.zeros((8, 8, 3), np.uint8),
                                  np.arange(64, dtype=float).reshape(8, 8))


def test_segmentation_figure(tmp_path):
  image, disc = _disc_scene()
  saliency = scipy.ndimage.gaussian_filter(disc.astype(float), 4)
  fig = segmentation_figure(np.stack([image, image]), np.stack([saliency, -saliency]),
                            np.stack([disc, np.zeros_like(disc)]), titles=["disc", "empty"])
  titles = [ax.get_title() for ax in fig.axes]
  assert titles[:3] == ["disc", "saliency", f"GrabCut mask ({100 * disc.mean():.0f}% of image)"]
  assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 2
  fig.savefig(tmp_path / "segmentation.png")
  with Image.open(tmp_path / "segmentation.png") as saved:  # the figure renders at its own size
    assert saved.size == tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
