"""Shared figure helpers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position


def new_figure(rows: int, cols: int, cell: tuple[float, float] = (2.4, 2.4), **kwargs):
  """A figure with a [rows, cols] array of axes (always 2-D)."""
  fig, axes = plt.subplots(rows, cols, figsize=(cell[0] * cols, cell[1] * rows),
                           squeeze=False, **kwargs)
  return fig, axes


def show_image(ax, image: np.ndarray, title: str | None = None, **kwargs):
  """Draws an [H, W, C] (C = 1 or 3) or [H, W] image in [0, 1] without ticks."""
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim == 2:
    kwargs.setdefault("cmap", "gray")
    kwargs.setdefault("vmin", 0.0)
    kwargs.setdefault("vmax", 1.0)
  ax.imshow(image, **kwargs)
  ax.set_xticks([])
  ax.set_yticks([])
  if title:
    ax.set_title(title, fontsize=8)
