"""Figures for inspecting a network: filters, templates, feature maps, top inputs, embeddings.

Colour maps: gray for filters (their values are normalised per filter, so
only the pattern matters), a diverging map centred at 0 for signed weights
(class templates), viridis for activations (perceptually uniform, with a
colour bar since the values matter) and tab10 (qualitative) for classes.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.patches as mpatches
import numpy as np

from jaxviz.plotting import common

__all__ = ("ACTIVATION_CMAP", "CLASS_CMAP", "class_templates_figure", "embedding_figure",
           "feature_map_figure", "filter_slices_figure", "filters_figure", "grid_shape",
           "mosaic_canvas", "mosaic_figure", "tile", "top_activations_figure", "WEIGHT_CMAP")

ACTIVATION_CMAP = "viridis"
WEIGHT_CMAP = "RdBu_r"
CLASS_CMAP = "tab10"


def grid_shape(count: int, max_cols: int = 8) -> tuple[int, int]:
  """``(rows, cols)`` of a near-square grid of ``count`` panels, at most ``max_cols`` wide."""
  cols = min(max_cols, max(1, math.ceil(math.sqrt(count))))
  return -(-count // cols), cols


def _hide_unused(axes, used: int):
  for ax in axes.ravel()[used:]:
    ax.axis("off")


def filters_figure(filters: np.ndarray, title: str = "", max_cols: int = 8):
  """One panel per filter: gray ([O, kh, kw, 1]) or RGB ([O, kh, kw, 3]).

  Args:
    filters: [O, kh, kw, C] in [0, 255] (see ``jaxviz.inspect.filter_grid``).
    title: figure title.
    max_cols: panels per row.

  Returns:
    The matplotlib figure; panel ``i`` is titled with the filter index.
  """
  filters = np.asarray(filters, np.float32)
  rows, cols = grid_shape(len(filters), max_cols)
  fig, axes = common.new_figure(rows, cols, cell=(1.1, 1.2))
  for i, f in enumerate(filters):
    common.show_image(axes.flat[i], f / 255.0, title=f"#{i}", interpolation="nearest")
  _hide_unused(axes, len(filters))
  if title:
    fig.suptitle(title + "\n(each filter min-max normalised; black = min, white = max)",
                 fontsize=9)
  fig.tight_layout()
  return fig


def tile(images: np.ndarray, pad: int = 1, pad_value: float = np.nan) -> np.ndarray:
  """Tiles [R, C, h, w] into one [R*(h+pad)-pad, C*(w+pad)-pad] image, ``pad_value`` between."""
  images = np.asarray(images, np.float32)
  r, c, h, w = images.shape
  out = np.full((r * (h + pad) - pad, c * (w + pad) - pad), pad_value, np.float32)
  for i in range(r):
    for j in range(c):
      out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = images[i, j]
  return out


def filter_slices_figure(slices: np.ndarray, title: str = "",
                         output_filters: Sequence[int] | None = None):
  """Deeper filters as a mosaic: rows = output filters, columns = input channels.

  Args:
    slices: [O, I, kh, kw] in [0, 255], each 2-D slice normalised on its own
      (``filter_grid(kernel, per_input_channel=True)``).
    title: figure title.
    output_filters: the output-filter index of each row (default 0..O-1).

  Returns:
    The matplotlib figure.
  """
  slices = np.asarray(slices, np.float32)
  o, i, kh, kw = slices.shape
  rows = list(range(o)) if output_filters is None else [int(f) for f in output_filters]
  mosaic = tile(slices / 255.0)
  fig, ax = common.new_figure(1, 1, cell=(max(4.0, 0.3 * i + 1.5), max(3.0, 0.3 * o + 1.0)))
  ax = ax[0, 0]
  cmap = common.colormap("gray").with_extremes(bad="#4477aa")
  ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=0.0, vmax=1.0,
            interpolation="nearest")
  step = max(1, i // 16)
  ax.set_xticks([(kw + 1) * j + (kw - 1) / 2 for j in range(0, i, step)],
                [str(j) for j in range(0, i, step)], fontsize=7)
  ax.set_yticks([(kh + 1) * r + (kh - 1) / 2 for r in range(o)], [str(f) for f in rows],
                fontsize=7)
  ax.set_xlabel("input channel")
  ax.set_ylabel("output filter")
  ax.set_title((title + "\n" if title else "") +
               "each slice min-max normalised (black = min, white = max)", fontsize=9)
  fig.tight_layout()
  return fig


def class_templates_figure(templates: np.ndarray, class_names: Sequence[str], title: str = "",
                           max_cols: int = 5):
  """Class templates (signed weights) on one diverging scale centred at 0.

  The scale is +-(99th percentile of |weight|) over all templates, so a few
  large weights on rarely-lit border pixels do not wash out the class shapes;
  larger values saturate (the colour bar's pointed ends).

  Args:
    templates: [K, H, W, 1] raw weights (``jaxviz.inspect.class_templates``).
      RGB templates [K, H, W, 3] are shown min-max normalised per template.
    class_names: K names.
    title: figure title.
    max_cols: panels per row.

  Returns:
    The matplotlib figure (with a colour bar for gray templates).
  """
  templates = np.asarray(templates, np.float32)
  k = len(templates)
  rows, cols = grid_shape(k, max_cols)
  fig, axes = common.new_figure(rows, cols, cell=(1.9, 2.0))
  limit = float(np.percentile(np.abs(templates), 99)) or 1.0
  image = None
  for c in range(k):
    t = templates[c]
    if t.shape[-1] == 1:
      image = axes.flat[c].imshow(t[..., 0], cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit)
      axes.flat[c].set_xticks([])
      axes.flat[c].set_yticks([])
      axes.flat[c].set_title(f"{c}: {class_names[c]}", fontsize=8)
    else:
      span = float(t.max() - t.min()) or 1.0
      common.show_image(axes.flat[c], (t - t.min()) / span, title=f"{c}: {class_names[c]}")
  _hide_unused(axes, k)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  if image is not None:
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="weight", extend="both")
  return fig


def feature_map_figure(act: np.ndarray, channels: Sequence[int] | None = None, title: str = "",
                       image: np.ndarray | None = None, max_cols: int = 8):
  """A layer's activations for one image.

  A spatial layer [h, w, c] is a grid of one panel per channel, titled with
  the channel index, all on one viridis scale with a shared colour bar (so
  channels can be compared). A dense layer [d] cannot be drawn as a grid; it
  is a stem plot of activation against unit index instead.

  Args:
    act: [h, w, c] or [d] activations of one image (already restricted to
      ``channels`` if given).
    channels: the layer's channel index of each slice of ``act`` (default
      0..c-1); used as panel titles / x positions.
    title: figure title.
    image: optional input image [H, W, C] in [0, 1], drawn as the first panel.
    max_cols: panels per row.

  Returns:
    The matplotlib figure.

  Raises:
    ValueError: ``act`` not rank 1 or 3, or ``channels`` of the wrong length.
  """
  act = np.asarray(act, np.float32)
  if act.ndim not in (1, 3):
    raise ValueError(f"act must be one image's activations [h, w, c] or [d], got shape "
                     f"{act.shape}.")
  num = act.shape[-1]
  channels = list(range(num)) if channels is None else [int(c) for c in channels]
  if len(channels) != num:
    raise ValueError(f"{len(channels)} channel indices for {num} channels of act.")
  if act.ndim == 1:
    panels = 1 + (image is not None)
    fig, axes = common.new_figure(1, panels, cell=(5.5, 2.8),
                                  gridspec_kw={"width_ratios": [1, 3][-panels:]})
    if image is not None:
      common.show_image(axes[0, 0], image, title="input")
    ax = axes[0, -1]
    ax.stem(channels, act, basefmt="k-", markerfmt=".")
    ax.set_xlabel("unit index")
    ax.set_ylabel("activation")
    ax.set_title(title or "dense layer activations", fontsize=9)
    fig.tight_layout()
    return fig
  count = num + (image is not None)
  rows, cols = grid_shape(count, max_cols)
  fig, axes = common.new_figure(rows, cols, cell=(1.5, 1.6))
  vmin, vmax = float(act.min()), float(act.max())
  if vmax <= vmin:
    vmax = vmin + 1.0
  start = 0
  if image is not None:
    common.show_image(axes.flat[0], image, title="input")
    start = 1
  mappable = None
  for n, c in enumerate(channels):
    ax = axes.flat[start + n]
    mappable = ax.imshow(act[..., n], cmap=ACTIVATION_CMAP, vmin=vmin, vmax=vmax,
                         interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"ch {c}", fontsize=8)
  _hide_unused(axes, count)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.7, label="activation")
  return fig


def top_activations_figure(images: np.ndarray, boxes: np.ndarray, patches: np.ndarray,
                           channels: Sequence[int], values: np.ndarray, title: str = ""):
  """Rows = channels; left: top-k images with the receptive-field box; right: the patches.

  Args:
    images: [C, k, H, W, ch] in [0, 1], each channel's top images.
    boxes: [C, k, 4] ``(top, left, bottom, right)`` in pixels (may extend
      past the image: the layer's padding).
    patches: [C, k, fh, fw, ch] in [0, 1].
    channels: C channel indices (row labels).
    values: [C, k] max activations (written below the images).
    title: figure title.

  Returns:
    The matplotlib figure.
  """
  c, k = np.shape(values)
  fig = common.figure(figsize=(2 * k * 0.95 + 0.8, c * 1.05 + 1.0), layout="constrained")
  left, right = fig.subfigures(1, 2, wspace=0.02)
  image_axes = left.subplots(c, k, squeeze=False)
  patch_axes = right.subplots(c, k, squeeze=False)
  for r in range(c):
    for j in range(k):
      ax = image_axes[r, j]
      common.show_image(ax, images[r, j])
      ax.set_xlabel(f"{values[r, j]:.2f}", fontsize=8, labelpad=1)
      top, left_px, bottom, right_px = boxes[r, j]
      ax.add_patch(mpatches.Rectangle((left_px - 0.5, top - 0.5), right_px - left_px,
                                      bottom - top, fill=False, edgecolor="red", linewidth=1.2,
                                      clip_on=False))
      common.show_image(patch_axes[r, j], patches[r, j], interpolation="nearest")
    image_axes[r, 0].set_ylabel(f"ch {channels[r]}", fontsize=9)
  left.suptitle("top images (below: max activation; red: receptive field)", fontsize=9)
  right.suptitle("receptive-field patches", fontsize=9)
  if title:
    fig.suptitle(title, fontsize=10)
  return fig


def _class_colors(num_classes: int) -> np.ndarray:
  cmap = common.colormap(CLASS_CMAP if num_classes <= 10 else "tab20")
  return np.asarray([cmap(i % cmap.N) for i in range(num_classes)])


def embedding_figure(embeddings: Mapping[str, np.ndarray], labels: np.ndarray,
                     class_names: Sequence[str], title: str = "", max_cols: int = 2,
                     axis_names: Mapping[str, tuple[str, str]] | None = None):
  """Scatter plots of 2-D embeddings, coloured by class, with one legend of class names.

  Args:
    embeddings: panel title -> [N, 2] points (all for the same N examples).
    labels: int [N] class of each point.
    class_names: one name per class.
    title: figure title.
    max_cols: panels per row.
    axis_names: optional panel title -> (x label, y label).

  Returns:
    The matplotlib figure.
  """
  labels = np.asarray(labels)
  colors = _class_colors(len(class_names))
  rows, cols = grid_shape(len(embeddings), max_cols)
  fig, axes = common.new_figure(rows, cols, cell=(4.2, 4.0))
  size = float(np.clip(4000.0 / max(len(labels), 1), 3.0, 20.0))
  for ax, (name, pts) in zip(axes.ravel(), embeddings.items()):
    pts = np.asarray(pts)
    for c in range(len(class_names)):
      sel = labels == c
      ax.scatter(pts[sel, 0], pts[sel, 1], s=size, color=colors[c], label=class_names[c],
                 alpha=0.8, linewidths=0)
    ax.set_title(name, fontsize=9)
    xlabel, ylabel = (axis_names or {}).get(name, ("dim 1", "dim 2"))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
  _hide_unused(axes, len(embeddings))
  handles = [mpatches.Patch(color=colors[c], label=n) for c, n in enumerate(class_names)]
  fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
             title="class")
  if title:
    fig.suptitle(title, fontsize=11)
  fig.tight_layout()
  return fig


def mosaic_canvas(points: np.ndarray, thumbnails: np.ndarray, labels: np.ndarray | None = None,
                  num_classes: int = 10, grid: int = 40, border: int = 2) -> np.ndarray:
  """Thumbnails placed at their embedded positions, one per cell of a grid.

  The 2-D points are scaled into a ``grid x grid`` array of cells (the 0.5th
  to 99.5th percentile of each axis spans the grid, so a few outliers do
  not shrink everything else; they go to the edge cells); each
  occupied cell shows the thumbnail of the point nearest its centre (so
  thumbnails never overlap and dense regions are not hidden under the last
  drawn point). With ``labels`` each thumbnail gets a class-coloured frame.

  Args:
    points: [N, 2] embedding.
    thumbnails: [N, h, w, C] in [0, 1], C in {1, 3}.
    labels: optional int [N] for the frame colours.
    num_classes: number of classes (frame colours, tab10).
    grid: cells per side.
    border: frame width in pixels.

  Returns:
    float32 RGB canvas [grid * (h + 2 * border), grid * (w + 2 * border), 3] in
    [0, 1], white where no point falls. Row 0 is the top, i.e. the largest y.
  """
  points = np.asarray(points, np.float64)
  thumbs = np.asarray(thumbnails, np.float32)
  if thumbs.shape[-1] == 1:
    thumbs = np.repeat(thumbs, 3, axis=-1)
  n, h, w, _ = thumbs.shape
  lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
  unit = np.clip((points - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0) * (grid - 1e-9)
  cells = np.floor(unit).astype(np.int64)
  dist = np.sum((unit - cells - 0.5) ** 2, axis=1)
  ch, cw = h + 2 * border, w + 2 * border
  canvas = np.ones((grid * ch, grid * cw, 3), np.float32)
  colors = _class_colors(num_classes)[:, :3]
  order = np.lexsort((dist, cells[:, 1], cells[:, 0]))
  seen = set()
  for idx in order:
    cell = (int(cells[idx, 0]), int(cells[idx, 1]))
    if cell in seen:
      continue
    seen.add(cell)
    top = (grid - 1 - cell[1]) * ch
    left = cell[0] * cw
    frame = colors[labels[idx]] if labels is not None else np.ones(3, np.float32)
    canvas[top:top + ch, left:left + cw] = frame
    canvas[top + border:top + border + h, left + border:left + border + w] = thumbs[idx]
  return canvas


def mosaic_figure(points: np.ndarray, thumbnails: np.ndarray, labels: np.ndarray,
                  class_names: Sequence[str], title: str = "", grid: int = 40):
  """:func:`mosaic_canvas` as a figure, with a legend of the frame colours."""
  canvas = mosaic_canvas(points, thumbnails, labels, len(class_names), grid)
  fig, ax = common.new_figure(1, 1, cell=(9.0, 9.0))
  common.show_image(ax[0, 0], canvas, title=title)
  colors = _class_colors(len(class_names))
  handles = [mpatches.Patch(color=colors[c], label=n) for c, n in enumerate(class_names)]
  fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
             title="class (frame)")
  fig.tight_layout()
  return fig
