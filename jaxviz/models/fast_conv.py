"""CPU fast paths for depthwise and 1x1 convolutions (same math as lax.conv).

MobileNets (https://arxiv.org/abs/1704.04861,
https://arxiv.org/abs/1801.04381) are built from depthwise 3x3 and pointwise
1x1 convolutions. XLA:CPU runs ``lax.conv_general_dilated`` with
``feature_group_count=C`` and its gradients one to two orders of magnitude
slower than the same arithmetic written as elementwise ops, so this module
writes them that way:

* a depthwise conv is a sum over the ``kh * kw`` taps of a (strided) shifted
  slice of the padded input times the per-channel tap weight; XLA fuses the
  taps into one loop. Its ``jax.custom_vjp`` computes the input gradient as
  another shifted-slice sum (a stride-1 correlation of the stride-dilated
  cotangent with the flipped kernel) and the kernel gradient as, per tap, the
  sum over batch and space of shifted input times cotangent. The backward pass
  reuses the same differentiable core, so higher-order reverse-mode
  derivatives take the fast path too. Forward mode (``jax.jvp``,
  ``jax.jacfwd``) is not defined for a ``custom_vjp``; use ``impl="native"``
  in :mod:`jaxviz.models.conv_ops` for it.
* a pointwise conv is one matmul ``[B * H * W, I] @ [I, O]``.

Both take NHWC inputs and HWIO kernels, and pad exactly like
``lax.conv_general_dilated(padding="SAME")`` (TF-style: the odd padding
element goes after).
"""

from __future__ import annotations

import functools
import numbers

import jax
from jax import lax
import jax.numpy as jnp


def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
  """TF/XLA ``SAME`` padding (before, after) of one spatial axis."""
  out = -(-size // stride)
  total = max((out - 1) * stride + window - size, 0)
  return total // 2, total - total // 2


def _tap(x: jax.Array, i: int, j: int, out_h: int, out_w: int,
         stride: int) -> jax.Array:
  """x[:, i + stride * o, j + stride * p, :] for o < out_h, p < out_w."""
  b, _, _, c = x.shape
  return lax.slice(x, (0, i, j, 0),
                   (b, i + (out_h - 1) * stride + 1, j + (out_w - 1) * stride + 1, c),
                   (1, stride, stride, 1))


def _valid_out_size(x: jax.Array, kernel: jax.Array, stride: int) -> tuple[int, int]:
  return ((x.shape[1] - kernel.shape[0]) // stride + 1,
          (x.shape[2] - kernel.shape[1]) // stride + 1)


def _shifted_sum(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """VALID depthwise correlation as a sum of kh * kw shifted slices."""
  kh, kw = kernel.shape[:2]
  out_h, out_w = _valid_out_size(x, kernel, stride)
  out = None
  for i in range(kh):
    for j in range(kw):
      term = _tap(x, i, j, out_h, out_w, stride) * kernel[i, j, 0]
      out = term if out is None else out + term
  return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _depthwise_valid(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """VALID depthwise conv: x [B, H, W, C], kernel [kh, kw, 1, C]."""
  return _shifted_sum(x, kernel, stride)


def _depthwise_valid_fwd(x, kernel, stride):
  return _shifted_sum(x, kernel, stride), (x, kernel)


def _depthwise_valid_bwd(stride, residuals, g):
  x, kernel = residuals
  kh, kw = kernel.shape[:2]
  _, h, w, _ = x.shape
  _, out_h, out_w, _ = g.shape
  # dx[p] = sum_i g_dilated[p - i] * k[i]: place g on the stride grid (interior
  # padding), pad kh - 1 before so every tap stays in range, and correlate
  # with the flipped kernel at stride 1.
  g_full = lax.pad(g, jnp.zeros((), g.dtype),
                   ((0, 0, 0),
                    (kh - 1, h - (out_h - 1) * stride - 1, stride - 1),
                    (kw - 1, w - (out_w - 1) * stride - 1, stride - 1),
                    (0, 0, 0)))
  dx = _depthwise_valid(g_full, kernel[::-1, ::-1], 1)
  dk = jnp.stack([
      jnp.sum(_tap(x, i, j, out_h, out_w, stride) * g, axis=(0, 1, 2))
      for i in range(kh) for j in range(kw)
  ]).reshape(kernel.shape)
  return dx.astype(x.dtype), dk.astype(kernel.dtype)


_depthwise_valid.defvjp(_depthwise_valid_fwd, _depthwise_valid_bwd)


def depthwise_conv2d(x: jax.typing.ArrayLike, kernel: jax.typing.ArrayLike,
                     stride: int) -> jax.Array:
  """Depthwise 2-D convolution with ``SAME`` padding, fast on XLA:CPU.

  Equals ``lax.conv_general_dilated(x, kernel, (stride, stride), "SAME",
  dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=C)``; it is
  differentiable in ``x`` and ``kernel`` through a hand-written VJP and works
  under ``jit`` and ``vmap``.

  Args:
    x: input [B, H, W, C].
    kernel: depthwise kernel [kh, kw, 1, C] (any kh, kw >= 1).
    stride: spatial stride (the same for height and width), >= 1.

  Returns:
    [B, ceil(H / stride), ceil(W / stride), C].

  Raises:
    ValueError: on a non-4-D input or kernel, a kernel whose third dimension
      is not 1 or whose channels differ from the input's, or a stride < 1.
  """
  x = jnp.asarray(x)
  kernel = jnp.asarray(kernel)
  if x.ndim != 4:
    raise ValueError(f"depthwise_conv2d expects x of shape [B, H, W, C], got {x.shape}.")
  if kernel.ndim != 4 or kernel.shape[2] != 1 or kernel.shape[3] != x.shape[3]:
    raise ValueError(f"depthwise_conv2d expects a kernel of shape [kh, kw, 1, {x.shape[3]}] "
                     f"for x of shape {x.shape}, got {kernel.shape}.")
  if isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1:
    raise ValueError(f"depthwise_conv2d expects an integer stride >= 1, got {stride!r}.")
  stride = int(stride)
  kh, kw = kernel.shape[:2]
  pad_h = _same_padding(x.shape[1], kh, stride)
  pad_w = _same_padding(x.shape[2], kw, stride)
  x_padded = lax.pad(x, jnp.zeros((), x.dtype),
                     ((0, 0, 0), (*pad_h, 0), (*pad_w, 0), (0, 0, 0)))
  return _depthwise_valid(x_padded, kernel, stride)


def pointwise_conv2d(x: jax.typing.ArrayLike, kernel: jax.typing.ArrayLike) -> jax.Array:
  """1x1 convolution (stride 1) as one matmul ``[B * H * W, I] @ [I, O]``.

  Args:
    x: input [B, H, W, I].
    kernel: kernel [1, 1, I, O].

  Returns:
    [B, H, W, O].

  Raises:
    ValueError: on a non-4-D input or a kernel that is not [1, 1, I, O].
  """
  x = jnp.asarray(x)
  kernel = jnp.asarray(kernel)
  if x.ndim != 4:
    raise ValueError(f"pointwise_conv2d expects x of shape [B, H, W, I], got {x.shape}.")
  if kernel.ndim != 4 or kernel.shape[:3] != (1, 1, x.shape[3]):
    raise ValueError(f"pointwise_conv2d expects a kernel of shape [1, 1, {x.shape[3]}, O] "
                     f"for x of shape {x.shape}, got {kernel.shape}.")
  b, h, w, i = x.shape
  y = jnp.dot(x.reshape(b * h * w, i), kernel.reshape(i, kernel.shape[3]))
  return y.reshape(b, h, w, kernel.shape[3])
