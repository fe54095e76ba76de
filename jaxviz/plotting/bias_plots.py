"""Figures for the dataset-bias experiment: saliency overlays and summary bars.

Saliency is drawn as a heatmap over the (gray) image with the perceptually
uniform ``inferno`` colour map and a colour bar; each map is divided by its
own maximum, so the colours show where a model looks, not how strongly. The
planted mark's region is outlined in cyan.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import matplotlib.patches as mpatches
import numpy as np

from jaxviz.plotting import common

__all__ = ("BarPanel", "REGION_COLOR", "SALIENCY_CMAP", "saliency_overlay_figure", "summary_bars")

SALIENCY_CMAP = "inferno"
REGION_COLOR = "cyan"


def _outline(ax, region: np.ndarray) -> None:
  """Draws the bounding box of the True pixels of ``region`` [H, W]."""
  rows, cols = np.nonzero(region)
  ax.add_patch(mpatches.Rectangle((cols.min() - 0.5, rows.min() - 0.5),
                                  cols.max() - cols.min() + 1, rows.max() - rows.min() + 1,
                                  fill=False, edgecolor=REGION_COLOR, linewidth=1.2,
                                  linestyle="--"))


def saliency_overlay_figure(images: Sequence[np.ndarray], maps: Sequence[np.ndarray | None],
                            row_labels: Sequence[str],
                            captions: Sequence[Sequence[str]] | None = None,
                            region: np.ndarray | None = None, title: str = "",
                            alpha: float = 0.65):
  """A grid of images, one row per (image set, model), saliency overlaid.

  Args:
    images: R arrays [N, H, W, C] (C = 1 or 3) in [0, 1]: the images of each row.
    maps: R entries, each a non-negative saliency array [N, H, W] drawn over
      that row's images, or None for a row of plain images.
    row_labels: R labels (y-axis label of each row's first panel).
    captions: optional R lists of N panel titles.
    region: optional bool [H, W] outlined on every panel (the mark).
    title: figure title.
    alpha: opacity of the heatmap.

  Returns:
    The matplotlib figure; every row with maps has a colour bar.

  Raises:
    ValueError: rows of different lengths or map shapes not matching images.
  """
  r = len(images)
  if not r or len(maps) != r or len(row_labels) != r or (captions is not None
                                                         and len(captions) != r):
    raise ValueError(f"images, maps, row_labels (and captions) need the same non-zero number "
                     f"of rows; got {r}, {len(maps)}, {len(row_labels)}"
                     f"{'' if captions is None else f', {len(captions)}'}.")
  n = len(images[0])
  for i, (imgs, m) in enumerate(zip(images, maps)):
    if len(imgs) != n or (m is not None and np.shape(m) != np.shape(imgs)[:3]):
      raise ValueError(f"Row {i}: expected {n} images [N, H, W, C] and maps [N, H, W], got "
                       f"{np.shape(imgs)} and {None if m is None else np.shape(m)}.")
  fig, axes = common.new_figure(r, n, cell=(1.5, 1.9))
  fig.subplots_adjust(hspace=0.5, wspace=0.08)
  for i in range(r):
    mappable = None
    for j in range(n):
      ax = axes[i, j]
      common.show_image(ax, images[i][j], title=None if captions is None else captions[i][j])
      if maps[i] is not None:
        m = np.asarray(maps[i][j], np.float32)
        peak = m.max()
        mappable = ax.imshow(m / peak if peak > 0 else m, cmap=SALIENCY_CMAP, vmin=0.0,
                             vmax=1.0, alpha=alpha, interpolation="nearest")
      if region is not None:
        _outline(ax, region)
    axes[i, 0].set_ylabel(row_labels[i], fontsize=8)
    if mappable is not None:
      bar = fig.colorbar(mappable, ax=list(axes[i]), fraction=0.015, pad=0.01)
      bar.set_label("saliency / map max", fontsize=7)
      bar.ax.tick_params(labelsize=6)
  if title:
    fig.suptitle(title, fontsize=10)
  return fig


class BarPanel(NamedTuple):
  """One panel of :func:`summary_bars`.

  Attributes:
    title: panel title.
    ylabel: y-axis label.
    values: bar label -> value (bars in insertion order).
    chance: the chance level drawn as a dashed line (None: no line).
    chance_label: legend text of the chance line.
  """

  title: str
  ylabel: str
  values: Mapping[str, float]
  chance: float | None = None
  chance_label: str = "chance"


def summary_bars(panels: Sequence[BarPanel], title: str = "", ylim: tuple[float, float] = (0, 1)):
  """Side-by-side bar charts with value labels and a chance line each.

  Args:
    panels: the panels, left to right.
    title: figure title.
    ylim: y-axis range shared by the panels (fractions: (0, 1)).

  Returns:
    The matplotlib figure.
  """
  fig, axes = common.new_figure(1, len(panels), cell=(3.6, 3.4))
  colors = ("tab:blue", "tab:orange", "tab:green", "tab:red")
  for ax, panel in zip(axes[0], panels):
    labels = list(panel.values)
    values = [float(panel.values[k]) for k in labels]
    x = np.arange(len(values))
    ax.bar(x, values, color=[colors[i % len(colors)] for i in x], width=0.6)
    for xi, v in zip(x, values):
      ax.text(xi, min(v, ylim[1]) + 0.02 * (ylim[1] - ylim[0]), f"{v:.3f}", ha="center",
              fontsize=8)
    if panel.chance is not None:
      ax.axhline(panel.chance, color="gray", linestyle="--", linewidth=1,
                 label=f"{panel.chance_label} ({panel.chance:.3f})")
      ax.legend(fontsize=7, loc="upper left")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylim(*ylim)
    ax.set_ylabel(panel.ylabel, fontsize=8)
    ax.set_title(panel.title, fontsize=9)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  return fig
