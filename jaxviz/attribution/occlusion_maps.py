"""Occlusion sensitivity: how much the target score drops when a patch is hidden.

Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks",
section 4.2, https://arxiv.org/abs/1311.2901.

A ``patch`` x ``patch`` square of the image is replaced by ``fill`` at every
position of a grid with step ``stride``; the score of each occluded image is
compared with the score of the intact image. Positions start at 0 and, when
the stride does not land on the border, one more row/column of positions is
placed flush with the bottom/right border, so every pixel is covered. The map
value of a pixel is the mean score drop over all patch positions that cover
it (positive: hiding the pixel lowers the target score, i.e. it supports the
target).

All patch positions of all images go through the model as batched forward
passes summed by :func:`jaxviz.chunking.chunked_sum` (``jax.vmap`` over the
positions of a chunk, :func:`jax.lax.scan` over chunks), about
``batch_size`` occluded images per pass.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import chunking
from jaxviz import validation
from jaxviz.attribution import gradients

__all__ = ("SCORES", "occlusion", "patch_starts")

SCORES = ("logit", "probability")


def _pair(value, name: str) -> tuple[int, int]:
  pair = (value, value) if np.ndim(value) == 0 else tuple(value)
  if len(pair) != 2:
    raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}.")
  return (validation.check_positive_int(pair[0], name),
          validation.check_positive_int(pair[1], name))


def _patch_masks(y0, x0, size, patch):
  """Boolean [P, H, W] masks of the patches starting at (y0[p], x0[p])."""
  rows = np.arange(size[0])[None, :, None]
  cols = np.arange(size[1])[None, None, :]
  y0, x0 = y0[:, None, None], x0[:, None, None]
  return (rows >= y0) & (rows < y0 + patch[0]) & (cols >= x0) & (cols < x0 + patch[1])


def patch_starts(size: int, patch: int, stride: int) -> np.ndarray:
  """Start offsets of the patches along one axis (border-flush last patch)."""
  starts = list(range(0, size - patch + 1, stride))
  if starts[-1] != size - patch:
    starts.append(size - patch)
  return np.asarray(starts)


def occlusion(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
              targets: jax.typing.ArrayLike, *, patch: int | Sequence[int] = 8,
              stride: int | Sequence[int] = 4, fill: jax.typing.ArrayLike = 0.0,
              batch_size: int = 64, score: str = "logit") -> jax.Array:
  """Occlusion map of the target score for each image.

  Compiled internally and cached per (``f``, ``patch``, ``stride``,
  ``batch_size``, ``score``, shapes); also jittable as a whole with those
  arguments static.

  Args:
    f: model function ``x [B, H, W, C] -> logits [B, K]``.
    x: input images ``[B, H, W, C]``.
    targets: int target logits ``[B]`` or ``[B, T]``.
    patch: patch size, an int or ``(height, width)``.
    stride: step between patch positions, an int or ``(height, width)``.
    fill: occluder value, broadcastable to ``x`` (a scalar such as 0 or the
      dataset mean, a per-channel ``[C]`` colour, or a ``[B, H, W, C]`` image
      such as a blurred copy of ``x``).
    batch_size: about how many occluded images go through ``f`` at once
      (``max(1, batch_size // B)`` patch positions of the whole batch).
    score: ``"logit"`` (the target logit) or ``"probability"`` (its softmax).

  Returns:
    Mean score drop per pixel, ``[B, H, W]`` for ``[B]`` targets or
    ``[B, T, H, W]`` for ``[B, T]`` targets.

  Raises:
    ValueError: bad ``x``, ``targets``, ``fill`` or options (e.g. a patch
      larger than the image).
  """
  validation.check_images(x)
  ph, pw = _pair(patch, "patch")
  sh, sw = _pair(stride, "stride")
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  if score not in SCORES:
    raise ValueError(f"score must be one of {SCORES}, got {score!r}.")
  b, h, w, _ = x.shape
  if ph > h or pw > w:
    raise ValueError(f"patch {(ph, pw)} is larger than the image {(h, w)}.")
  fill_shape = tuple(getattr(fill, "shape", np.shape(fill)))
  try:
    broadcast = np.broadcast_shapes(fill_shape, x.shape)
  except ValueError:
    broadcast = None
  if broadcast != tuple(x.shape):
    raise ValueError(f"fill of shape {fill_shape} does not broadcast to x's shape {x.shape}.")
  validation.check_finite(fill, "fill")
  _, targets, squeeze = gradients.prepare_targets(f, x, targets)
  x = jnp.asarray(x)
  heat = _occlusion(x, jnp.asarray(fill, x.dtype), targets, f=f, patch=(ph, pw),
                    stride=(sh, sw), batch_size=batch_size, score=score)
  return heat[:, 0] if squeeze else heat


@functools.partial(jax.jit, static_argnames=("f", "patch", "stride", "batch_size", "score"))
def _occlusion(x, fill, targets, *, f, patch, stride, batch_size, score):
  """:func:`occlusion` after validation: [B, T, H, W] for targets [B, T]."""
  b, h, w, _ = x.shape
  ys, xs = np.meshgrid(patch_starts(h, patch[0], stride[0]), patch_starts(w, patch[1], stride[1]),
                       indexing="ij")
  ys, xs = ys.ravel(), xs.ravel()
  count = _patch_masks(ys, xs, (h, w), patch).sum(axis=0)  # [H, W], >= 1 everywhere.

  def target_score(images):
    out = f(images)
    if score == "probability":
      out = jax.nn.softmax(out, axis=-1)
    return jnp.take_along_axis(out, targets, axis=1)  # [B, T]

  reference = target_score(x)

  def drop_map(start):
    mask = _patch_masks(start[0][None], start[1][None], (h, w), patch)[0]  # [H, W]
    occluded = jnp.where(mask[None, :, :, None], fill, x)  # [B, H, W, C]
    drop = reference - target_score(occluded)  # [B, T]
    return drop[:, :, None, None] * mask.astype(drop.dtype)  # [B, T, H, W]

  starts = jnp.asarray(np.stack([ys, xs], axis=-1))
  total = chunking.chunked_sum(drop_map, starts, chunk_size=max(1, batch_size // b))
  return total / jnp.asarray(count, total.dtype)
