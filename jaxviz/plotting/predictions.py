"""Images with their top-k predicted classes."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jaxviz.plotting import common

__all__ = ("prediction_grid",)


def prediction_grid(images: np.ndarray, names: Sequence[str], topk: Sequence[Sequence[dict]],
                    title: str = "", cols: int = 5):
  """Each image above a horizontal bar chart of its top-k class probabilities.

  Args:
    images: [N, H, W, C] in [0, 1].
    names: N captions (e.g. file names).
    topk: per image, a list of ``{"name", "prob"}`` dicts, most probable first.
    title: figure title.
    cols: images per row.

  Returns:
    The matplotlib figure.
  """
  n = len(images)
  cols = min(cols, n)
  rows = -(-n // cols)
  fig, axes = common.new_figure(2 * rows, cols, cell=(2.8, 1.6),
                                gridspec_kw={"height_ratios": [2.2, 1] * rows})
  for ax in axes.ravel():
    ax.axis("off")
  for i in range(n):
    r, c = divmod(i, cols)
    common.show_image(axes[2 * r, c], images[i], title=names[i])
    axes[2 * r, c].axis("on")
    bar_ax = axes[2 * r + 1, c]
    bar_ax.axis("on")
    labels = [t["name"].split(",")[0][:24] for t in topk[i]][::-1]
    probs = [t["prob"] for t in topk[i]][::-1]
    bar_ax.barh(np.arange(len(probs)), probs, color="tab:blue")
    for y, p in enumerate(probs):
      bar_ax.text(min(p, 0.75) + 0.02, y, f"{p:.2f}", va="center", fontsize=6)
    bar_ax.set_yticks(np.arange(len(probs)), labels, fontsize=7)
    bar_ax.set_xlim(0, 1)
    bar_ax.tick_params(axis="x", labelsize=6)
    bar_ax.set_xlabel("probability", fontsize=7)
  if title:
    fig.suptitle(title)
  fig.tight_layout(h_pad=0.3)
  return fig
