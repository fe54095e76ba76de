"""Non-overlapping max pooling with a backend switch (same math everywhere).

``max_pool2d(x, window, impl)`` is ``flax.linen.max_pool(x, (w, w), (w, w),
"VALID")``: rows and columns past the last full window are dropped. Its
gradient routes each window's cotangent to one input, the first maximum in
row-major window order, as XLA's ``select_and_scatter`` does; these are the
"switches" of Zeiler & Fergus (https://arxiv.org/abs/1311.2901), which
deconvnet relies on (its backward pass also crosses windows whose values all
tie at zero).

``impl`` (see :mod:`jaxviz.models.conv_ops`): ``"native"`` is
``lax.reduce_window`` (what GPU/TPU run best); ``"fast"`` takes the max over a
reshaped view and carries a hand-written VJP that picks the switch with
``window ** 2`` comparisons: XLA:CPU's ``select_and_scatter`` is about 5x
slower, and over 10x slower under ``vmap`` (several cotangents at once).
Forward-mode autodiff (``jax.jvp``) needs ``impl="native"``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxviz import validation
from jaxviz.models import conv_ops
from jaxviz.models import fast_conv

__all__ = ("max_pool2d", "MaxPool")


def _window_taps(x: jax.Array, window: int) -> list[jax.Array]:
  """x[:, i::window, j::window] for each (i, j) of a window, row-major."""
  out_h, out_w = x.shape[1] // window, x.shape[2] // window
  return [fast_conv.strided_tap(x, i, j, out_h, out_w, window)
          for i in range(window) for j in range(window)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_cropped(x: jax.Array, window: int) -> jax.Array:
  """Max pool of x [B, H, W, C] whose H and W are multiples of ``window``."""
  b, h, w, c = x.shape
  return x.reshape(b, h // window, window, w // window, window, c).max(axis=(2, 4))


def _max_pool_fwd(x, window):
  # One pass of strict comparisons gives the max and the switch (the first
  # maximum, row-major) together. Comparing taps with a separately computed
  # max is not safe: XLA may recompute x in two fusions that round differently.
  taps = _window_taps(x, window)
  y, switch = taps[0], jnp.zeros(taps[0].shape, jnp.int8)
  for k, tap in enumerate(taps[1:], start=1):
    larger = tap > y
    y = jnp.where(larger, tap, y)
    switch = jnp.where(larger, jnp.int8(k), switch)
  return y, switch


def _max_pool_bwd(window, switch, g):
  per_tap = [jnp.where(switch == k, g, jnp.zeros((), g.dtype)) for k in range(window * window)]
  b, out_h, out_w, c = g.shape
  rows = [jnp.stack(per_tap[i * window:(i + 1) * window], axis=3).reshape(
      b, out_h, out_w * window, c) for i in range(window)]
  return (jnp.stack(rows, axis=2).reshape(b, out_h * window, out_w * window, c),)


_max_pool_cropped.defvjp(_max_pool_fwd, _max_pool_bwd)


def max_pool2d(x: jax.typing.ArrayLike, window: int = 2, impl: str = "auto") -> jax.Array:
  """Max pooling with a ``window`` x ``window`` window and stride ``window``.

  Args:
    x: input [B, H, W, C].
    window: window size and stride, >= 1.
    impl: ``"auto"``, ``"native"`` or ``"fast"`` (see module docstring).

  Returns:
    [B, H // window, W // window, C].

  Raises:
    ValueError: on a non-4-D input, a window < 1 or larger than H or W, or an
      unknown ``impl``.
  """
  x = jnp.asarray(x)
  if x.ndim != 4:
    raise ValueError(f"max_pool2d expects x of shape [B, H, W, C], got {x.shape}.")
  window = validation.check_positive_int(window, "max_pool2d window")
  if window > min(x.shape[1], x.shape[2]):
    raise ValueError(f"max_pool2d window {window} is larger than the input's spatial size "
                     f"{x.shape[1:3]}.")
  if conv_ops.resolve_impl(impl) == "native":
    return nn.max_pool(x, (window, window), strides=(window, window), padding="VALID")
  h, w = x.shape[1] // window * window, x.shape[2] // window * window
  return _max_pool_cropped(x[:, :h, :w], window)


class MaxPool(nn.Module):
  """:func:`max_pool2d` as a named layer: [B, H, W, C] -> [B, H/w, W/w, C]."""

  window: int = 2
  impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    return max_pool2d(x, self.window, impl=self.impl)
