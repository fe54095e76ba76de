"""Figures for attribution sanity checks and saliency segmentation."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxviz.plotting import common

__all__ = ("sanity_figure", "segmentation_figure")


def _as_float_image(image: np.ndarray) -> np.ndarray:
  """uint8 or [0, 1] float image -> float [H, W, C] in [0, 1]."""
  image = np.asarray(image)
  if image.dtype == np.uint8:
    return image.astype(np.float32) / 255.0
  return np.clip(image.astype(np.float32), 0.0, 1.0)


def _normalized(m: np.ndarray) -> np.ndarray:
  """Map divided by its largest magnitude (all-zero maps unchanged)."""
  m = np.asarray(m, np.float32)
  scale = np.max(np.abs(m))
  return m / scale if scale > 0 else m


def sanity_figure(maps: Mapping[str, Mapping[str, np.ndarray]],
                  correlations: Mapping[str, Mapping[str, float]], *,
                  image: np.ndarray | None = None, index: int = 0, cascading: bool = True,
                  title: str | None = None):
  """Saliency maps under model randomization, and their rank correlation per layer.

  The layout follows Adebayo et al. 2018 (https://arxiv.org/abs/1810.03292),
  figure 2: one row per method, columns from the trained model ("original")
  to the most randomized model, then a line plot of the Spearman rank
  correlation with the original map against the randomized layer. Each map is
  divided by its own largest magnitude (the comparison is about the spatial
  pattern, not the scale): magnitude maps use 'inferno' on [0, 1], signed maps
  'RdBu_r' on [-1, 1].

  Args:
    maps: ``maps[method]["original" | layer]`` as ``[B, H, W]`` arrays, e.g.
      from ``cascading_randomization(..., return_maps=True)``; the layers in
      randomization order.
    correlations: ``correlations[method][layer]`` floats.
    image: optional input image ``[B, H, W, C]`` (uint8 or [0, 1]) drawn in
      the first column.
    index: which image of the batch to draw.
    cascading: label the columns as cumulative (top layer down to the named
      layer) or independent (only the named layer) randomization.
    title: figure title.

  Returns:
    The matplotlib figure.
  """
  methods = list(maps)
  columns = list(maps[methods[0]])
  layers = [c for c in columns if c != "original"]
  offset = 0 if image is None else 1
  n_cols = offset + len(columns)
  fig = common.figure(figsize=(1.9 * n_cols + 1.0, 1.9 * len(methods) + 3.0), layout="constrained")
  grid = fig.add_gridspec(len(methods) + 1, n_cols,
                          height_ratios=[1.0] * len(methods) + [1.5])
  for row, method in enumerate(methods):
    axes = [fig.add_subplot(grid[row, offset + col]) for col in range(len(columns))]
    signed = any(np.any(np.asarray(maps[method][c])[index] < 0) for c in columns)
    for col, (ax, column) in enumerate(zip(axes, columns)):
      m = _normalized(np.asarray(maps[method][column])[index])
      if signed:
        im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
      else:
        im = ax.imshow(m, cmap="inferno", vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      if row == 0:
        ax.set_title(column if col == 0 else f"{'up to ' if cascading else ''}{column}",
                     fontsize=8)
      if column != "original":
        ax.text(0.03, 0.04, f"ρ={correlations[method][column]:.2f}", transform=ax.transAxes,
                fontsize=7, color="white" if not signed else "black",
                bbox={"facecolor": "black" if not signed else "white", "alpha": 0.5,
                      "pad": 1, "linewidth": 0})
    axes[0].set_ylabel(method, fontsize=9)
    label = "attribution / max |attribution|" if signed else "|attribution| / max"
    fig.colorbar(im, ax=axes, fraction=0.025, pad=0.01).set_label(label, fontsize=7)
    if image is not None:
      ax = fig.add_subplot(grid[row, 0])
      if row == 0:
        common.show_image(ax, _as_float_image(np.asarray(image)[index]), title="input")
      else:
        ax.axis("off")

  ax = fig.add_subplot(grid[len(methods), :])
  positions = np.arange(len(columns))
  for method in methods:
    values = [1.0] + [correlations[method][layer] for layer in layers]
    ax.plot(positions, values, marker="o", label=method)
  ax.axhline(0.0, color="gray", linestyle="--", linewidth=0.8)
  ax.set_xticks(positions, columns, rotation=30, ha="right", fontsize=8)
  ax.set_xlim(-0.3, len(columns) - 0.7)
  ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.05)
  ax.set_xlabel("randomized from the top layer down to" if cascading
                else "randomized layer (others trained)")
  ax.set_ylabel("Spearman rank corr.\nwith original map")
  ax.legend(fontsize=8, loc="best")
  ax.grid(alpha=0.3)
  fig.suptitle(title or f"{'Cascading' if cascading else 'Independent'} model randomization")
  return fig


def segmentation_figure(images: np.ndarray, saliency: np.ndarray, masks: np.ndarray,
                        titles: Sequence[str] | None = None):
  """Per image: the image, its saliency over it, and the segmentation mask.

  Args:
    images: ``[N, H, W, 3]`` uint8 or floats in [0, 1].
    saliency: ``[N, H, W]`` saliency maps (larger = more salient).
    masks: ``[N, H, W]`` boolean object masks.
    titles: optional ``N`` captions (e.g. the predicted class).

  Returns:
    The matplotlib figure (``N`` rows, 3 columns).
  """
  images, saliency, masks = np.asarray(images), np.asarray(saliency), np.asarray(masks, bool)
  n = len(images)
  fig, axes = common.new_figure(n, 3, cell=(2.8, 2.5), layout="constrained")
  for i in range(n):
    image = _as_float_image(images[i])
    common.show_image(axes[i, 0], image, title=titles[i] if titles is not None else "image")
    s = saliency[i] - saliency[i].min()
    s = s / s.max() if s.max() > 0 else s
    common.show_image(axes[i, 1], image.mean(-1), title="saliency")
    im = axes[i, 1].imshow(s, cmap="inferno", vmin=0, vmax=1, alpha=0.65)
    fig.colorbar(im, ax=axes[i, 1], fraction=0.046, pad=0.02).set_label(
        "saliency (min-max scaled)", fontsize=7)
    shaded = np.where(masks[i][..., None], image, 0.3 * image)
    common.show_image(axes[i, 2], shaded,
                      title=f"GrabCut mask ({100 * masks[i].mean():.0f}% of image)")
    if masks[i].any() and not masks[i].all():
      axes[i, 2].contour(masks[i].astype(float), levels=[0.5], colors="cyan", linewidths=1.0)
  return fig
