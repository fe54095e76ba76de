"""The figure of synthesized images: a labelled grid with its quality numbers.

One layout serves class-model grids (rows: settings, columns: classes) and
feature-visualization grids (rows: layers, columns: channel x
parameterization): every panel is an image in [0, 1] with a title above and
its numbers (probabilities, activation ratio, high-frequency energy) below.
Built on :mod:`jaxviz.plotting.common` (a ``matplotlib.figure.Figure``, no
pyplot).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxviz.plotting import common

__all__ = ("synthesis_grid_figure",)


def synthesis_grid_figure(images: np.ndarray, row_labels: Sequence[str],
                          titles: Sequence[Sequence[str]], notes: Sequence[Sequence[str]], *,
                          title: str = "", caption: str = "", cell: float = 1.9):
  """A grid of synthesized images with a label per row and text per panel.

  Args:
    images: [R, C, H, W, 1 or 3] in [0, 1] (a NaN image leaves its panel
      empty, for ragged grids).
    row_labels: R labels, written left of each row.
    titles: [R][C] panel titles (class name, channel, parameterization).
    notes: [R][C] panel notes, written below each image (its numbers).
    title: the figure's title.
    caption: a line below the grid (how to read the numbers).
    cell: panel width in inches (the height follows the images' aspect ratio).

  Returns:
    A ``matplotlib.figure.Figure``.

  Raises:
    ValueError: the labels do not match the grid's shape.
  """
  images = np.asarray(images, np.float32)
  if images.ndim != 5:
    raise ValueError(f"images must be [R, C, H, W, channels], got shape {images.shape}.")
  rows, cols = images.shape[:2]
  if len(row_labels) != rows or len(titles) != rows or len(notes) != rows or any(
      len(t) != cols or len(n) != cols for t, n in zip(titles, notes)):
    raise ValueError(f"row_labels, titles and notes must match the {rows}x{cols} grid.")
  height = cell * images.shape[2] / images.shape[3]
  fig, axes = common.new_figure(rows, cols, cell=(cell, height + 0.9), layout="constrained")
  for r in range(rows):
    for c in range(cols):
      ax = axes[r, c]
      if np.all(np.isnan(images[r, c])):
        ax.axis("off")
        continue
      common.show_image(ax, np.clip(images[r, c], 0.0, 1.0), titles[r][c])
      ax.set_xlabel(notes[r][c], fontsize=7)
    axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
  if title:
    fig.suptitle(title, fontsize=10)
  if caption:
    fig.supxlabel(caption, fontsize=7)
  return fig
