"""Tests for jaxviz.plotting.heatmaps (overlays and grid figures)."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from jaxviz.plotting import heatmaps

RNG = np.random.default_rng(0)
RGB = RNG.uniform(0, 1, (6, 5, 3)).astype(np.float32)
GRAY = RNG.uniform(0, 1, (6, 5, 1)).astype(np.float32)
HEAT = RNG.uniform(0, 1, (6, 5)).astype(np.float32)


def test_dimmed_grayscale_is_scaled_luma():
  out = heatmaps.dimmed_grayscale(RGB, dim=0.5)
  assert out.shape == (6, 5, 3) and out.dtype == np.float32
  luma = RGB @ np.array([0.299, 0.587, 0.114], np.float32)
  np.testing.assert_allclose(out, np.repeat(0.5 * luma[..., None], 3, -1), atol=1e-6)
  np.testing.assert_allclose(heatmaps.dimmed_grayscale(GRAY, dim=1.0),
                             np.repeat(GRAY, 3, -1), atol=1e-7)
  assert np.all(heatmaps.dimmed_grayscale(RGB, dim=0.0) == 0)


@pytest.mark.parametrize("image", [RGB, GRAY])
def test_overlay_shape_and_range(image):
  out = heatmaps.overlay(image, HEAT, alpha=0.6, dim=0.5)
  assert out.shape == (6, 5, 3) and out.dtype == np.float32
  assert out.min() >= 0.0 and out.max() <= 1.0
  # Extremes of the heat map stay inside [0, 1] too.
  for heat in (np.zeros_like(HEAT), np.ones_like(HEAT)):
    out = heatmaps.overlay(image, heat, alpha=0.6, dim=1.0)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_overlay_alpha_extremes():
  np.testing.assert_allclose(heatmaps.overlay(RGB, HEAT, alpha=0.0, dim=0.7),
                             heatmaps.dimmed_grayscale(RGB, 0.7), atol=1e-7)
  colored = matplotlib.colormaps["magma"](HEAT)[..., :3]
  np.testing.assert_allclose(heatmaps.overlay(RGB, HEAT, cmap="magma", alpha=1.0), colored,
                             atol=1e-6)
  # In between: the linear blend of the two.
  half = heatmaps.overlay(RGB, HEAT, cmap="magma", alpha=0.5, dim=0.7)
  np.testing.assert_allclose(half, 0.5 * heatmaps.dimmed_grayscale(RGB, 0.7) + 0.5 * colored,
                             atol=1e-6)


def test_overlay_brighter_heat_is_brighter_with_inferno():
  ramp = np.linspace(0, 1, 30, dtype=np.float32).reshape(6, 5)
  out = heatmaps.overlay(np.zeros((6, 5, 3), np.float32), ramp, alpha=1.0)
  brightness = out.reshape(-1, 3) @ np.array([0.299, 0.587, 0.114])
  assert np.all(np.diff(brightness) > 0)  # inferno is monotone in lightness


@pytest.mark.parametrize("kwargs, match", [
    ({"heat": HEAT[:5]}, "spatial shape"),
    ({"heat": HEAT + 1.5}, r"\[0, 1\]"),
    ({"heat": np.full((6, 5), np.nan, np.float32)}, "NaN"),
    ({"image": RGB * 255}, r"\[0, 1\]"),
    ({"image": RGB[..., :2]}, r"C in \(1, 3\)"),
    ({"alpha": 1.5}, "alpha"),
    ({"dim": -0.1}, "dim"),
    ({"cmap": "no_such_map"}, "colormap"),
])
def test_overlay_errors(kwargs, match):
  args = {"image": RGB, "heat": HEAT, **kwargs}
  with pytest.raises(ValueError, match=match):
    heatmaps.overlay(args.pop("image"), args.pop("heat"), **args)


def test_method_grid_figure_layout():
  images = RNG.uniform(0, 1, (2, 6, 5, 3)).astype(np.float32)
  maps = {"vanilla gradient": RNG.uniform(0, 1, (2, 6, 5)), "Grad-CAM": np.zeros((2, 6, 5))}
  fig = heatmaps.method_grid_figure(images, maps, ["a.jpg\ncat", "b.jpg\ndog"], title="t",
                                    colorbar_label="scaled to [0, 1]")
  axes = fig.get_axes()
  assert len(axes) == 2 * 3 + 1  # panels + the shared colour bar
  titles = [ax.get_title() for ax in axes]
  assert titles[:3] == ["input", "vanilla gradient", "Grad-CAM"]
  assert axes[3].get_ylabel() == "b.jpg\ndog"
  assert axes[-1].get_xlabel() == "scaled to [0, 1]"
  # The Grad-CAM panel of image 0 is the overlay of an all-zero map.
  shown = axes[2].get_images()[0].get_array()
  np.testing.assert_allclose(shown, heatmaps.overlay(images[0], np.zeros((6, 5))), atol=1e-6)
  plt.close(fig)


def test_method_grid_figure_errors():
  images = np.zeros((2, 6, 5, 3), np.float32)
  with pytest.raises(ValueError, match=r"\[N, H, W\]"):
    heatmaps.method_grid_figure(images, {"m": np.zeros((2, 5, 5))}, ["a", "b"])
  with pytest.raises(ValueError, match="normalise"):
    heatmaps.method_grid_figure(images, {"m": np.full((2, 6, 5), 2.0)}, ["a", "b"])
  with pytest.raises(ValueError, match="row labels"):
    heatmaps.method_grid_figure(images, {"m": np.zeros((2, 6, 5))}, ["a"])
  with pytest.raises(ValueError, match="at least one"):
    heatmaps.method_grid_figure(images, {}, ["a", "b"])


def test_neuron_grid_figure_titles():
  panels = RNG.uniform(0, 1, (2, 3, 6, 5, 3)).astype(np.float32)
  channels = np.array([[4, 1, 7], [0, 2, 9]])
  fig = heatmaps.neuron_grid_figure(RGB, panels, ["conv1", "block/expand"], channels,
                                    values=np.ones((2, 3)), title="t", caption="c")
  titles = [ax.get_title() for ax in fig.get_axes()]
  assert titles[0] == "input"
  assert titles[1].startswith("conv1 / channel 4")
  assert titles[-1].startswith("block/expand / channel 9")
  assert fig.get_suptitle() == "t\nc"
  plt.close(fig)
  with pytest.raises(ValueError, match="channels of shape"):
    heatmaps.neuron_grid_figure(RGB, panels, ["conv1"], channels)
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    heatmaps.neuron_grid_figure(RGB, panels - 0.5, ["conv1", "conv2"], channels)
