"""From per-pixel, per-channel attributions to displayable 2-D maps.

* :func:`reduce_channels`: [..., C] -> [...], e.g. Simonyan et al.'s saliency
  map ``max_c |d S / d x_c|`` (https://arxiv.org/abs/1312.6034, Sec. 3.1);
* :func:`input_x_gradient`: gradient times input (Shrikumar et al. 2016,
  https://arxiv.org/abs/1605.01713);
* :func:`saliency_map`: input gradients reduced over channels;
* :func:`normalize_maps`: per-map scaling to [0, 1] for display, clipping at
  a percentile (as PAIR saliency's ``VisualizeImageGrayscale`` does).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from jaxviz import validation
from jaxviz.attribution import gradients

__all__ = ("REDUCTIONS", "input_x_gradient", "normalize_maps", "reduce_channels", "saliency_map")

REDUCTIONS = ("max_abs", "max_abs_signed", "sum_abs", "signed", "l2")


def _check_reduction(method: str) -> None:
  if method not in REDUCTIONS:
    raise ValueError(f"Unknown channel reduction {method!r}; expected one of {REDUCTIONS}.")


def reduce_channels(attr: jax.typing.ArrayLike, method: str = "max_abs") -> jax.Array:
  """Reduces the last (channel) axis of an attribution.

  Args:
    attr: attributions [..., C], e.g. [B, H, W, C] or [B, T, H, W, C].
    method: ``"max_abs"`` (``max_c |a_c|``, Simonyan et al.'s choice),
      ``"max_abs_signed"`` (``a_c`` of the channel with the largest ``|a_c|``,
      its sign kept), ``"sum_abs"`` (``sum_c |a_c|``), ``"signed"``
      (``sum_c a_c``) or ``"l2"`` (``sqrt(sum_c a_c^2)``).

  Returns:
    The reduced map [...], e.g. [B, H, W].

  Raises:
    ValueError: unknown ``method`` or ``attr`` of rank < 1.
  """
  _check_reduction(method)
  if jnp.ndim(attr) < 1:
    raise ValueError("attr must have a channel axis [..., C], got a scalar.")
  attr = jnp.asarray(attr)
  if method == "max_abs":
    return jnp.max(jnp.abs(attr), axis=-1)
  if method == "max_abs_signed":
    index = jnp.argmax(jnp.abs(attr), axis=-1)[..., None]
    return jnp.take_along_axis(attr, index, axis=-1)[..., 0]
  if method == "sum_abs":
    return jnp.sum(jnp.abs(attr), axis=-1)
  if method == "signed":
    return jnp.sum(attr, axis=-1)
  return jnp.sqrt(jnp.sum(jnp.square(attr), axis=-1))


def input_x_gradient(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
                     targets: jax.typing.ArrayLike, *, rule: str = "gradient",
                     score_fn: gradients.ScoreFn | None = None) -> jax.Array:
  """Gradient times input, ``x * d S / d x`` (https://arxiv.org/abs/1605.01713).

  Args:
    f: model function ``logits [B, K] = f(x)``.
    x: float inputs [B, H, W, C].
    targets: int [B] or [B, T].
    rule: backward rule, see :func:`gradients.input_gradients`.
    score_fn: optional ``score_fn(logits) -> [B, K']``.

  Returns:
    [B, H, W, C] for targets [B], [B, T, H, W, C] for targets [B, T].

  Raises:
    ValueError: see :func:`gradients.input_gradients`.
  """
  grads = gradients.input_gradients(f, x, targets, rule=rule, score_fn=score_fn)
  x = jnp.asarray(x)
  return grads * (x if grads.ndim == x.ndim else x[:, None])


def saliency_map(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
                 targets: jax.typing.ArrayLike, *, reduction: str = "max_abs",
                 rule: str = "gradient",
                 score_fn: gradients.ScoreFn | None = None) -> jax.Array:
  """Simonyan et al.'s image-specific class saliency map.

  https://arxiv.org/abs/1312.6034 : ``M_ij = max_c |d S / d x_ijc|``
  (``reduction="max_abs"``).

  Args:
    f: model function ``logits [B, K] = f(x)``.
    x: float inputs [B, H, W, C].
    targets: int [B] or [B, T].
    reduction: channel reduction, see :func:`reduce_channels`.
    rule: backward rule, see :func:`gradients.input_gradients`.
    score_fn: optional ``score_fn(logits) -> [B, K']``.

  Returns:
    [B, H, W] for targets [B], [B, T, H, W] for targets [B, T].

  Raises:
    ValueError: unknown reduction, or see :func:`gradients.input_gradients`.
  """
  _check_reduction(reduction)
  grads = gradients.input_gradients(f, x, targets, rule=rule, score_fn=score_fn)
  return reduce_channels(grads, reduction)


@functools.partial(jax.jit, static_argnames=("signed",))
def _normalize(maps, percentile, signed):
  flat = maps.reshape(maps.shape[:-2] + (-1,))
  if signed:
    scale = jnp.percentile(jnp.abs(flat), percentile, axis=-1)[..., None, None]
    safe = jnp.where(scale > 0, scale, 1.0)
    return jnp.clip(maps / safe, -1.0, 1.0) * 0.5 + 0.5
  lo = jnp.min(flat, axis=-1)[..., None, None]
  hi = jnp.percentile(flat, percentile, axis=-1)[..., None, None]
  span = hi - lo
  out = jnp.clip((maps - lo) / jnp.where(span > 0, span, 1.0), 0.0, 1.0)
  return jnp.where(span > 0, out, jnp.zeros_like(out))


def normalize_maps(maps: jax.typing.ArrayLike, percentile: float = 99.0, *,
                   signed: bool = False) -> jax.Array:
  """Scales each map (the last two axes) to [0, 1] for display.

  Unsigned (default): ``clip((m - min) / (p - min), 0, 1)`` with ``p`` the
  ``percentile``-th percentile of the map, so the top 1% saturate instead of
  a few extreme pixels washing out the rest. A constant map becomes 0.

  Signed: ``clip(m / p, -1, 1) / 2 + 1/2`` with ``p`` the percentile of
  ``|m|``, so 0 maps to 0.5 (for a diverging colormap). An all-zero map
  becomes 0.5.

  Args:
    maps: float maps [..., H, W], e.g. [B, H, W] or [B, T, H, W].
    percentile: in (0, 100].
    signed: keep the sign (see above).

  Returns:
    float maps [..., H, W] in [0, 1].

  Raises:
    ValueError: ``maps`` of rank < 2, not real, non-finite, or a percentile
      outside (0, 100].
  """
  if not 0 < percentile <= 100:
    raise ValueError(f"percentile must be in (0, 100], got {percentile}.")
  if jnp.ndim(maps) < 2:
    raise ValueError(f"maps must have shape [..., H, W], got shape {jnp.shape(maps)}.")
  maps = jnp.asarray(maps)
  if not (jnp.issubdtype(maps.dtype, jnp.floating) or jnp.issubdtype(maps.dtype, jnp.integer)):
    raise ValueError(f"maps must be real numbers, got dtype {maps.dtype}.")
  validation.check_finite(maps, "maps")
  if not jnp.issubdtype(maps.dtype, jnp.floating):
    maps = maps.astype(jnp.float32)
  return _normalize(maps, jnp.float32(percentile), bool(signed))
