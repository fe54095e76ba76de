"""Figures of adversarial examples, robustness curves and shape bias.

``matplotlib.figure.Figure`` objects built without pyplot (importing this
module never touches the user's backend); numpy in, figure out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from jaxviz.plotting import common

__all__ = ("adversarial_examples_figure", "robustness_curves_figure",
           "saliency_comparison_figure", "shape_bias_figure")


def adversarial_examples_figure(clean: np.ndarray, adversarial: np.ndarray,
                                clean_captions: Sequence[str],
                                adversarial_captions: Sequence[str], *, epsilon_label: str,
                                title: str = "") -> Figure:
  """Rows of clean image / amplified perturbation / adversarial image (Goodfellow et al. Fig. 1).

  Args:
    clean: [N, H, W, C] clean images as pixels in [0, 1].
    adversarial: [N, H, W, C] adversarial images as pixels in [0, 1].
    clean_captions: per row, e.g. ``"giant panda 57.7%"``.
    adversarial_captions: per row, e.g. ``"gibbon 99.3%"``.
    epsilon_label: how the budget is written, e.g. ``"8/255"``.
    title: the figure title.

  Returns:
    A ``Figure`` with N rows and 3 columns; the perturbation is shown with
    each row's largest difference stretched to the full grey range (0.5 is
    no change).
  """
  clean, adversarial = np.asarray(clean, np.float32), np.asarray(adversarial, np.float32)
  if clean.shape != adversarial.shape or clean.ndim != 4:
    raise ValueError(f"clean and adversarial must be equal [N, H, W, C], got {clean.shape} "
                     f"and {adversarial.shape}.")
  rows = clean.shape[0]
  if not len(clean_captions) == len(adversarial_captions) == rows:
    raise ValueError(f"Need {rows} captions of each kind, got {len(clean_captions)} and "
                     f"{len(adversarial_captions)}.")
  fig = Figure(figsize=(6.3, 2.2 * rows + (0.3 if title else 0)), layout="constrained")
  axes = fig.subplots(rows, 3, squeeze=False)
  for r in range(rows):
    delta = adversarial[r] - clean[r]
    scale = max(float(np.abs(delta).max()), 1e-12)
    common.show_image(axes[r, 0], clean[r], f"clean: {clean_captions[r]}")
    common.show_image(axes[r, 1], 0.5 + 0.5 * delta / scale,
          f"perturbation, eps {epsilon_label}\n(amplified x{0.5 / scale:.0f})")
    common.show_image(axes[r, 2], adversarial[r], f"adversarial: {adversarial_captions[r]}")
  if title:
    fig.suptitle(title, fontsize=10)
  return fig


def robustness_curves_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                             xlabel: str = "epsilon (L-inf, pixel units x 255)",
                             ylabel: str = "accuracy", x_scale: float = 255.0,
                             title: str = "", ylim: tuple[float, float] = (-0.02, 1.02)
                             ) -> Figure:
  """Accuracy (or error) against epsilon, one line per attack or model.

  Args:
    curves: label -> ``(epsilons [E] in pixel units, values [E])``.
    xlabel: the x-axis label.
    ylabel: the y-axis label.
    x_scale: epsilons are multiplied by it on the axis (255: in x/255 units).
    title: the axes title.
    ylim: the y range.
  """
  fig = Figure(figsize=(4.6, 3.3), layout="constrained")
  ax = fig.subplots()
  markers = "osD^vP*X"
  for i, (label, (eps, values)) in enumerate(curves.items()):
    ax.plot(np.asarray(eps) * x_scale, values, marker=markers[i % len(markers)], ms=4,
            label=label)
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.set_ylim(*ylim)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  if title:
    ax.set_title(title, fontsize=9)
  return fig


def shape_bias_figure(models: Mapping[str, tuple[Mapping[str, float | None], float | None]], *,
                      references: Mapping[str, float] | None = None) -> Figure:
  """Shape bias per category in the style of Geirhos et al. 2019, Fig. 4.

  Categories run down the y axis; the x axis is the fraction of shape
  decisions (bottom) and of texture decisions (top, reversed); each model's
  per-category values are markers and its overall shape bias a solid
  vertical line of the same colour; each published reference is a dashed line.

  Args:
    models: model name -> (category -> shape bias or None when the model made
      no shape or texture decision there, overall shape bias).
    references: name -> published shape bias (e.g. ResNet-50 0.214, humans 0.96).
  """
  names = list(dict.fromkeys(c for per_category, _ in models.values() for c in per_category))
  fig = Figure(figsize=(4.8, 0.26 * len(names) + 1.9), layout="constrained")
  ax = fig.subplots()
  y = np.arange(len(names))[::-1]
  colors, markers = ("tab:red", "tab:orange", "tab:purple", "tab:brown"), "Dos^"
  for i, (model, (per_category, overall)) in enumerate(models.items()):
    color = colors[i % len(colors)]
    values = np.array([np.nan if per_category.get(n) is None else per_category[n]
                       for n in names], np.float64)
    ax.scatter(values, y, marker=markers[i % len(markers)], s=28, color=color, zorder=3,
               label=f"{model} (per category)")
    if overall is not None:
      ax.axvline(overall, color=color, lw=1.5, label=f"{model}: {overall:.3f}")
  styles = [("tab:blue", "--"), ("black", ":"), ("tab:green", "-.")]
  for i, (name, value) in enumerate((references or {}).items()):
    color, style = styles[i % len(styles)]
    ax.axvline(value, color=color, ls=style, lw=1.2, label=f"{name}: {value:g}")
  ax.set_yticks(y, names, fontsize=7)
  ax.set_xlim(-0.02, 1.02)  # Markers at 0 and 1 stay whole.
  ax.set_ylim(-0.7, len(names) - 0.3)
  ax.set_xlabel("fraction of 'shape' decisions")
  top = ax.secondary_xaxis("top", functions=(lambda v: 1.0 - v, lambda v: 1.0 - v))
  top.set_xlabel("fraction of 'texture' decisions")
  ax.grid(axis="x", alpha=0.3)
  fig.legend(*ax.get_legend_handles_labels(), fontsize=6, loc="outside lower center", ncol=2,
             frameon=False)
  return fig


def saliency_comparison_figure(images: np.ndarray, maps: Mapping[str, np.ndarray], *,
                               captions: Sequence[str] | None = None,
                               title: str = "") -> Figure:
  """Images and their signed input gradients under several models, side by side.

  Robust models have more perceptually aligned gradients (Tsipras et al.
  2019, https://arxiv.org/abs/1805.12152): their gradient looks like the
  object. Each map is divided by its largest magnitude and shown with a
  diverging colour map around 0 (red: raising the pixel raises the class
  score), with one colour bar for all.

  Args:
    images: [N, H, W, C] pixels in [0, 1].
    maps: model name -> [N, H, W] signed gradients (summed over channels).
    captions: per row, under the image (e.g. the label).
    title: the figure title.
  """
  images = np.asarray(images, np.float32)
  rows, cols = images.shape[0], 1 + len(maps)
  fig = Figure(figsize=(1.7 * cols, 1.75 * rows + (0.3 if title else 0)), layout="constrained")
  axes = fig.subplots(rows, cols, squeeze=False)
  shown = None
  for r in range(rows):
    common.show_image(axes[r, 0], images[r], captions[r] if captions else "image")
    for c, (name, values) in enumerate(maps.items(), start=1):
      m = np.asarray(values[r], np.float32)
      scaled = m / max(float(np.abs(m).max()), 1e-12)
      common.show_image(axes[r, c], scaled, f"gradient: {name}" if r == 0 else "",
                        cmap="RdBu_r", vmin=-1.0, vmax=1.0)
      shown = axes[r, c].images[-1]
  if shown is not None:
    bar = fig.colorbar(shown, ax=axes[:, 1:], shrink=0.8, location="bottom")
    bar.set_label("gradient / panel max |gradient|\n(red: raises the class score)", fontsize=7)
  if title:
    fig.suptitle(title, fontsize=10)
  return fig
