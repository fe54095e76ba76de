"""Attribution heatmaps over images: overlay helpers and grid figures.

Magnitude maps use a perceptually uniform sequential colormap ('inferno' by
default; 'magma' also works) blended over a dimmed grayscale copy of the
image, so the colour carries the attribution and the image only gives
context. Maps must already be scaled to [0, 1] (e.g. with
``jaxviz.attribution.reductions.normalize_maps``): the figures draw one
shared colour bar for that common [0, 1] scale and say how it was reached.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np

from jaxviz.plotting import common

__all__ = ("dimmed_grayscale", "method_grid_figure", "neuron_grid_figure", "overlay")

# ITU-R 601-2 luma weights (as PIL and jaxviz.data.convert_channels).
_LUMA = np.asarray((0.299, 0.587, 0.114), np.float32)


def _check_unit(values: np.ndarray, name: str) -> None:
  if not np.issubdtype(values.dtype, np.floating):
    raise ValueError(f"{name} must be floating point in [0, 1], got dtype {values.dtype}.")
  if not np.all(np.isfinite(values)):
    raise ValueError(f"{name} contains NaN or Inf values.")
  if values.size and (values.min() < 0.0 or values.max() > 1.0):
    raise ValueError(f"{name} must lie in [0, 1] (normalise it first), got values in "
                     f"[{values.min():.4g}, {values.max():.4g}].")


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] not in (1, 3):
    raise ValueError(f"{name} must have shape [H, W, C] with C in (1, 3), got {image.shape}.")
  _check_unit(image, name)
  return image.astype(np.float32)


def dimmed_grayscale(image: np.ndarray, dim: float = 0.5) -> np.ndarray:
  """The image as gray RGB, scaled by ``dim`` (a muted backdrop for a heatmap).

  Args:
    image: float image [H, W, C] in [0, 1], C = 1 or 3 (RGB -> luma).
    dim: brightness factor in [0, 1]; 1 keeps the gray image, 0 is black.

  Returns:
    float32 [H, W, 3] in [0, dim].

  Raises:
    ValueError: bad ``image`` shape, dtype or range, or ``dim`` outside [0, 1].
  """
  image = _check_image(image)
  if not 0.0 <= dim <= 1.0:
    raise ValueError(f"dim must be in [0, 1], got {dim}.")
  gray = image[..., 0] if image.shape[-1] == 1 else image @ _LUMA
  return np.repeat((dim * gray)[..., None], 3, axis=-1).astype(np.float32)


def overlay(image: np.ndarray, heat: np.ndarray, *, cmap: str = "inferno", alpha: float = 0.6,
            dim: float = 0.5) -> np.ndarray:
  """Alpha-blends a colormapped heatmap over the dimmed grayscale image.

  ``out = (1 - alpha) * dim * gray(image) + alpha * cmap(heat)``: ``alpha=0``
  gives the dimmed grayscale image, ``alpha=1`` the colormapped heatmap alone.

  Args:
    image: float image [H, W, C] in [0, 1], C = 1 or 3.
    heat: float map [H, W] in [0, 1] (normalised beforehand).
    cmap: a matplotlib colormap name, e.g. 'inferno' or 'magma'.
    alpha: heatmap opacity in [0, 1].
    dim: brightness of the grayscale backdrop in [0, 1].

  Returns:
    float32 RGB [H, W, 3] in [0, 1].

  Raises:
    ValueError: shapes that do not match, values outside [0, 1], NaN/Inf,
      ``alpha``/``dim`` outside [0, 1], or an unknown colormap.
  """
  image = _check_image(image)
  heat = np.asarray(heat)
  if heat.shape != image.shape[:2]:
    raise ValueError(f"heat must have the image's spatial shape {image.shape[:2]}, got "
                     f"{heat.shape}.")
  _check_unit(heat, "heat")
  if not 0.0 <= alpha <= 1.0:
    raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
  colored = common.colormap(cmap)(heat.astype(np.float32))[..., :3].astype(np.float32)
  out = (1.0 - alpha) * dimmed_grayscale(image, dim) + alpha * colored
  return np.clip(out, 0.0, 1.0)


def _add_colorbar(fig, axes, cmap: str, label: str):
  mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0.0, 1.0), cmap=cmap)
  bar = fig.colorbar(mappable, ax=axes, orientation="horizontal", fraction=0.03, pad=0.02,
                     aspect=50)
  bar.set_label(label, fontsize=9)
  return bar


def method_grid_figure(images: np.ndarray, maps: Mapping[str, np.ndarray],
                       row_labels: Sequence[str], *, title: str = "",
                       colorbar_label: str = "attribution (each map scaled to [0, 1])",
                       cmap: str = "inferno", alpha: float = 0.6, dim: float = 0.5,
                       cell: float = 1.75):
  """Rows = images, columns = the input then one attribution method each.

  Every map is overlaid (:func:`overlay`) on its dimmed grayscale image; all
  panels share one colour bar for the common [0, 1] scale, whose label
  should say how the maps were scaled.

  Args:
    images: float images [N, H, W, C] in [0, 1].
    maps: ``{column title: [N, H, W] maps in [0, 1]}``, in column order.
    row_labels: N labels (e.g. file name and class), drawn left of each row.
    title: figure title.
    colorbar_label: label of the shared colour bar.
    cmap: sequential colormap for the magnitudes ('inferno', 'magma', ...).
    alpha: heatmap opacity.
    dim: brightness of the grayscale backdrop.
    cell: panel size in inches.

  Returns:
    The matplotlib figure.

  Raises:
    ValueError: no maps, shapes that disagree, values outside [0, 1], or the
      wrong number of row labels.
  """
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"images must have shape [N, H, W, C], got {images.shape}.")
  n = len(images)
  if not maps:
    raise ValueError("maps must hold at least one method.")
  for name, m in maps.items():
    if np.shape(m) != images.shape[:3]:
      raise ValueError(f"maps[{name!r}] must have shape {images.shape[:3]} ([N, H, W]), got "
                       f"{np.shape(m)}.")
    _check_unit(np.asarray(m), f"maps[{name!r}]")
  if len(row_labels) != n:
    raise ValueError(f"{len(row_labels)} row labels for {n} images.")
  cols = 1 + len(maps)
  fig, axes = common.new_figure(n, cols, cell=(cell, cell + 0.15), layout="constrained")
  for i in range(n):
    image = _check_image(images[i], f"images[{i}]")
    common.show_image(axes[i, 0], image)
    if i == 0:
      axes[i, 0].set_title("input", fontsize=9)
    axes[i, 0].set_ylabel(row_labels[i], fontsize=8)
    for j, (name, m) in enumerate(maps.items(), start=1):
      axes[i, j].imshow(overlay(image, np.asarray(m[i]), cmap=cmap, alpha=alpha, dim=dim),
                        interpolation="nearest" if image.shape[0] < 64 else "antialiased")
      axes[i, j].set_xticks([])
      axes[i, j].set_yticks([])
      if i == 0:
        axes[i, j].set_title(name, fontsize=9)
  _add_colorbar(fig, axes, cmap, colorbar_label)
  if title:
    fig.suptitle(title, fontsize=11)
  return fig


def neuron_grid_figure(image: np.ndarray, panels: np.ndarray, layers: Sequence[str],
                       channels: np.ndarray, *, values: np.ndarray | None = None,
                       title: str = "", caption: str = "", cell: float = 2.2):
  """Rows = layers, columns = the input then one channel's visualisation each.

  Args:
    image: float input image [H, W, C] in [0, 1] (first column, top row).
    panels: float images [L, K, H, W, Cp] in [0, 1], Cp = 1 or 3 (e.g.
      guided-backprop gradients normalised so that 0.5 = zero gradient).
    layers: L layer names (row labels).
    channels: int [L, K] channel index of each panel.
    values: optional float [L, K] (e.g. the channel's mean activation),
      printed under each panel title.
    title: figure title.
    caption: a line under the title saying how the panels are scaled.
    cell: panel size in inches.

  Returns:
    The matplotlib figure; panel (l, k) is titled "layer / channel c".

  Raises:
    ValueError: shapes that disagree or values outside [0, 1].
  """
  image = _check_image(image)
  panels = np.asarray(panels)
  if panels.ndim != 5 or panels.shape[-1] not in (1, 3):
    raise ValueError(f"panels must have shape [L, K, H, W, C] with C in (1, 3), got "
                     f"{panels.shape}.")
  _check_unit(panels, "panels")
  num_layers, k = panels.shape[:2]
  channels = np.asarray(channels)
  if len(layers) != num_layers or channels.shape != (num_layers, k):
    raise ValueError(f"Need {num_layers} layer names and channels of shape {(num_layers, k)}, "
                     f"got {len(layers)} names and channels of shape {channels.shape}.")
  if values is not None and np.shape(values) != (num_layers, k):
    raise ValueError(f"values must have shape {(num_layers, k)}, got {np.shape(values)}.")
  fig, axes = common.new_figure(num_layers, k + 1, cell=(cell, cell + 0.3), layout="constrained")
  nearest = {"interpolation": "nearest"} if panels.shape[2] < 64 else {}
  for row, layer in enumerate(layers):
    if row == 0:
      common.show_image(axes[0, 0], image, title="input", **nearest)
    else:
      axes[row, 0].axis("off")
    for col in range(k):
      label = f"{layer} / channel {int(channels[row, col])}"
      if len(label) > 14 * cell:  # About 5 pt per character at 8 pt: wider than the panel.
        label = label.replace(" / ", " /\n", 1)
      if values is not None:
        label += f"\nmean act. {float(values[row, col]):.3g}"
      common.show_image(axes[row, col + 1], panels[row, col], title=label, **nearest)
  if title or caption:
    fig.suptitle("\n".join(t for t in (title, caption) if t), fontsize=10)
  return fig
