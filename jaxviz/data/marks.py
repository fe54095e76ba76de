"""Planted-mark datasets: a spurious corner patch on some images of one class.

A classifier trained on data where a small artefact (here a bright corner
patch) co-occurs with one class can learn the artefact instead of the class:
a "shortcut" (Geirhos et al. 2020, "Shortcut Learning in Deep Neural
Networks", https://arxiv.org/abs/2004.07780; compare "Right for the Right
Reasons", Ross et al. 2017, https://arxiv.org/abs/1703.03717, which plants the
same kind of confound). :mod:`jaxviz.attribution.bias` measures where the
saliency of a model trained on such data goes.

* :func:`mark_region`: the boolean [H, W] mask of a corner patch;
* :func:`add_mark`: paints the patch onto the selected images;
* :func:`biased_dataset`: marks a random ``fraction`` of one class's images.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation

__all__ = ("CORNERS", "add_mark", "biased_dataset", "mark_region")

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def _check_mark(spatial: Sequence[int], size: int, corner: str) -> None:
  if corner not in CORNERS:
    raise ValueError(f"Unknown corner {corner!r}; expected one of {CORNERS}.")
  size = validation.check_positive_int(size, "size")
  h, w = spatial
  if not 1 <= size <= min(h, w):
    raise ValueError(f"size must be in [1, {min(h, w)}] for {h}x{w} images, got {size}.")


def mark_region(shape: Sequence[int], size: int = 4, corner: str = "top_left") -> np.ndarray:
  """The pixels covered by a ``size`` x ``size`` patch in one corner.

  Args:
    shape: the image size ``(H, W)``.
    size: side of the square patch, in pixels (1 to ``min(H, W)``).
    corner: ``"top_left"``, ``"top_right"``, ``"bottom_left"`` or
      ``"bottom_right"``.

  Returns:
    bool [H, W], True inside the patch (``size**2`` pixels).

  Raises:
    ValueError: ``shape`` is not two positive ints, unknown corner, or a
      size that does not fit.
  """
  shape = tuple(shape)
  if len(shape) != 2:
    raise ValueError(f"shape must be (H, W) with positive ints, got {shape}.")
  shape = tuple(validation.check_positive_int(s, "each of shape (H, W)") for s in shape)
  _check_mark(shape, size, corner)
  h, w = shape
  region = np.zeros((h, w), bool)
  rows = slice(0, size) if corner.startswith("top") else slice(h - size, h)
  cols = slice(0, size) if corner.endswith("left") else slice(w - size, w)
  region[rows, cols] = True
  return region


def _check_value(value, dtype) -> None:
  dtype = np.dtype(dtype)
  if np.issubdtype(dtype, np.integer):
    info = np.iinfo(dtype)
    if not (float(value) == int(value) and info.min <= int(value) <= info.max):
      raise ValueError(f"value {value} is not representable in the images' dtype {dtype} "
                       f"([{info.min}, {info.max}]).")
  elif not np.isfinite(value):
    raise ValueError(f"value must be finite, got {value}.")


def add_mark(images: jax.typing.ArrayLike, mask: jax.typing.ArrayLike, *, size: int = 4,
             corner: str = "top_left", value: float = 255) -> jax.Array:
  """Paints a constant square patch onto the images selected by ``mask``.

  Every channel of the patch pixels is set to ``value``; nothing else changes.

  Args:
    images: [N, H, W, C] images of any numeric dtype (e.g. uint8 pixels, or
      float model inputs in [0, 1] with ``value=1.0``).
    mask: bool [N], which images get the mark.
    size: side of the patch in pixels (see :func:`mark_region`).
    corner: which corner (see :func:`mark_region`).
    value: the patch intensity; must be representable in ``images.dtype``.

  Returns:
    [N, H, W, C] of ``images.dtype``.

  Raises:
    ValueError: ``images`` not [N, H, W, C], ``mask`` not bool [N], bad
      size/corner, or ``value`` outside the dtype's range.
  """
  shape = np.shape(images)
  if len(shape) != 4:
    raise ValueError(f"images must have shape [N, H, W, C], got {shape}.")
  if np.shape(mask) != (shape[0],) or jnp.result_type(mask) != jnp.bool_:
    raise ValueError(f"mask must be a bool array of shape [{shape[0]}], got "
                     f"{jnp.result_type(mask)} {np.shape(mask)}.")
  dtype = jnp.result_type(images)
  _check_value(value, dtype)
  region = mark_region(shape[1:3], size, corner)
  images = jnp.asarray(images)
  where = jnp.asarray(mask)[:, None, None, None] & jnp.asarray(region)[None, :, :, None]
  return jnp.where(where, jnp.asarray(value, dtype), images)


def biased_dataset(images: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
                   target_class: int, key: jax.Array, fraction: float = 0.95, size: int = 4,
                   corner: str = "top_left",
                   value: float = 255) -> tuple[jax.Array, jax.Array]:
  """Marks a random ``fraction`` of one class's images and no other image.

  Exactly ``round(fraction * n_target)`` images of ``target_class`` (numpy
  rounding, half to even) are chosen uniformly at random without replacement
  and get the mark; images of every other class stay clean. The mark is then
  a near-perfect predictor of the class, so a model can reach low training
  loss by detecting the mark alone (a shortcut); the unmarked ``1 - fraction``
  of the class are what still teaches it the class's real appearance.
  (Marking some other-class images too makes the mark a weaker cue and the
  shortcut less attractive; this function deliberately keeps the clean,
  maximally confounded setting.)

  Args:
    images: [N, H, W, C] training images (e.g. uint8).
    labels: int [N] class labels.
    target_class: the class whose images get the mark.
    key: a ``jax.random`` key choosing which images are marked.
    fraction: share of the target class's images to mark, in [0, 1].
    size: patch side (see :func:`mark_region`).
    corner: patch corner (see :func:`mark_region`).
    value: patch intensity (see :func:`add_mark`).

  Returns:
    ``(marked_images [N, H, W, C], marked bool [N])``.

  Raises:
    ValueError: bad shapes or dtypes, ``fraction`` outside [0, 1], or no
      image of ``target_class`` (all before any work).
  """
  shape = np.shape(images)
  if len(shape) != 4:
    raise ValueError(f"images must have shape [N, H, W, C], got {shape}.")
  if np.shape(labels) != (shape[0],) or not jnp.issubdtype(jnp.result_type(labels), jnp.integer):
    raise ValueError(f"labels must be an int array of shape [{shape[0]}], got "
                     f"{jnp.result_type(labels)} {np.shape(labels)}.")
  if not 0.0 <= fraction <= 1.0:
    raise ValueError(f"fraction must be in [0, 1], got {fraction}.")
  is_target = np.asarray(labels) == target_class
  n_target = int(is_target.sum())
  if n_target == 0:
    raise ValueError(f"No image has label target_class={target_class}.")
  n_marked = int(np.round(fraction * n_target))
  # A uniform random score per target image (+inf elsewhere): the n_marked
  # smallest are a uniform random subset of exactly that size.
  scores = jnp.where(jnp.asarray(is_target), jax.random.uniform(key, (shape[0],)), jnp.inf)
  ranks = jnp.argsort(jnp.argsort(scores))
  marked = ranks < n_marked
  return add_mark(images, marked, size=size, corner=corner, value=value), marked
