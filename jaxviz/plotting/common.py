"""Shared figure helpers.

Figures are ``matplotlib.figure.Figure`` objects built without pyplot: no
global figure state, and importing :mod:`jaxviz.plotting` never changes the
user's matplotlib backend (a notebook keeps its inline backend). Save them
with :func:`jaxviz.workdir.write_figure` or ``fig.savefig``; show one in a
notebook by returning it from a cell.
"""

from __future__ import annotations

import matplotlib
from matplotlib.figure import Figure
import numpy as np

__all__ = ("colormap", "figure", "new_figure", "show_image")


def new_figure(rows: int, cols: int, cell: tuple[float, float] = (2.4, 2.4), **kwargs):
  """A figure with a [rows, cols] array of axes (always 2-D)."""
  subplot_kw = {k: kwargs.pop(k) for k in ("gridspec_kw", "sharex", "sharey", "subplot_kw")
                if k in kwargs}
  fig = Figure(figsize=(cell[0] * cols, cell[1] * rows), **kwargs)
  axes = fig.subplots(rows, cols, squeeze=False, **subplot_kw)
  return fig, axes


def figure(**kwargs) -> Figure:
  """A new figure without pyplot (``Figure(**kwargs)``, e.g. ``figsize``, ``layout``)."""
  return Figure(**kwargs)


def colormap(name: str):
  """The registered matplotlib colormap ``name``; ValueError naming it when unknown."""
  try:
    return matplotlib.colormaps[name]
  except KeyError as e:
    raise ValueError(f"Unknown matplotlib colormap {name!r}.") from e


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
