"""CPU fast paths for convolutions (same math as lax.conv).

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
* a dense conv with few input channels (a network's first layer: 1 for
  grayscale, 3 for RGB) is a sum over taps and input channels of a shifted
  slice times a kernel row, fused into one loop. Its custom VJP contracts the
  cotangent with the kernel first (one matmul ``[B * Ho * Wo, O] @ [O, kh * kw
  * I]``) and then adds the ``kh * kw`` few-channel results at their shifted,
  stride-dilated positions; XLA:CPU's own convolution gradient is several
  times slower there, and the input gradient of this layer is on the path of
  every attribution method.
* any other dense conv keeps ``lax.conv_general_dilated`` forward, with a
  custom VJP whose input gradient is a plain convolution of the
  (stride-dilated) cotangent with the explicitly flipped and transposed
  kernel. Autodiff's own transposed convolution (the kernel reversed and its
  in/out dimensions swapped inside the op) is as fast at top level, but
  inside a ``lax.scan``/``while`` body (chunked Integrated Gradients,
  SmoothGrad) XLA:CPU runs it about 8x slower; the explicit form is not.

All take NHWC inputs and HWIO kernels; their ``SAME`` padding is exactly
that of ``lax.conv_general_dilated(padding="SAME")`` (TF-style: the odd
padding element goes after).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
from jax import lax
import jax.numpy as jnp

from jaxviz import validation

__all__ = ("dense_conv2d", "depthwise_conv2d", "few_channel_conv2d", "FEW_CHANNELS",
           "pointwise_conv2d", "same_padding", "strided_tap")


def same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
  """TF/XLA ``SAME`` padding ``(before, after)`` of one spatial axis (the odd one after)."""
  out = -(-size // stride)
  total = max((out - 1) * stride + window - size, 0)
  return total // 2, total - total // 2


def _pad_same(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """x [B, H, W, C] zero-padded for a ``SAME`` conv with ``kernel``'s window."""
  pad_h = same_padding(x.shape[1], kernel.shape[0], stride)
  pad_w = same_padding(x.shape[2], kernel.shape[1], stride)
  return lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*pad_h, 0), (*pad_w, 0), (0, 0, 0)))


def strided_tap(x: jax.Array, i: int, j: int, out_h: int, out_w: int,
                stride: int) -> jax.Array:
  """x[:, i + stride * o, j + stride * p, :] for o < out_h, p < out_w.

  The input under tap (i, j) of a window slid with ``stride``: [B, out_h,
  out_w, C] from x [B, H, W, C].
  """
  b, _, _, c = x.shape
  return lax.slice(x, (0, i, j, 0),
                   (b, i + (out_h - 1) * stride + 1, j + (out_w - 1) * stride + 1, c),
                   (1, stride, stride, 1))


def _on_stride_grid(g: jax.Array, offset: tuple[int, int], size: tuple[int, int],
                    stride: int) -> jax.Array:
  """g [B, Ho, Wo, C] placed at ``offset + stride * (o, p)`` in zeros [B, *size, C]."""
  pads = [(off, full - off - (n - 1) * stride - 1, stride - 1)
          for off, full, n in zip(offset, size, g.shape[1:3])]
  return lax.pad(g, jnp.zeros((), g.dtype), ((0, 0, 0), *pads, (0, 0, 0)))


def _valid_out_size(x: jax.Array, kernel: jax.Array, stride: int) -> tuple[int, int]:
  return ((x.shape[1] - kernel.shape[0]) // stride + 1,
          (x.shape[2] - kernel.shape[1]) // stride + 1)


def _with_vjp(forward: Callable[[jax.Array, jax.Array, int], jax.Array],
              backward: Callable[[int, tuple[jax.Array, jax.Array], jax.Array],
                                 tuple[jax.Array, jax.Array]]):
  """``forward(x, kernel, stride)`` with ``backward(stride, (x, kernel), g) -> (dx, dk)``."""
  op = jax.custom_vjp(forward, nondiff_argnums=(2,))
  op.defvjp(lambda x, kernel, stride: (forward(x, kernel, stride), (x, kernel)), backward)
  return op


def _shifted_sum(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """VALID depthwise correlation as a sum of kh * kw shifted slices."""
  kh, kw = kernel.shape[:2]
  out_h, out_w = _valid_out_size(x, kernel, stride)
  out = None
  for i in range(kh):
    for j in range(kw):
      term = strided_tap(x, i, j, out_h, out_w, stride) * kernel[i, j, 0]
      out = term if out is None else out + term
  return out


def _depthwise_valid_bwd(stride, residuals, g):
  x, kernel = residuals
  kh, kw = kernel.shape[:2]
  _, h, w, _ = x.shape
  _, out_h, out_w, _ = g.shape
  # dx[p] = sum_i g_dilated[p - i] * k[i]: place g on the stride grid (interior
  # padding), pad kh - 1 before so every tap stays in range, and correlate
  # with the flipped kernel at stride 1.
  g_full = _on_stride_grid(g, (kh - 1, kw - 1), (h + kh - 1, w + kw - 1), stride)
  dx = _depthwise_valid(g_full, kernel[::-1, ::-1], 1)
  dk = jnp.stack([
      jnp.sum(strided_tap(x, i, j, out_h, out_w, stride) * g, axis=(0, 1, 2))
      for i in range(kh) for j in range(kw)
  ]).reshape(kernel.shape)
  return dx.astype(x.dtype), dk.astype(kernel.dtype)


# VALID depthwise conv: x [B, H, W, C], kernel [kh, kw, 1, C].
_depthwise_valid = _with_vjp(_shifted_sum, _depthwise_valid_bwd)


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
  stride = validation.check_positive_int(stride, "depthwise_conv2d stride")
  return _depthwise_valid(_pad_same(x, kernel, stride), kernel, stride)


# Dense convs with at most this many input channels take the shifted-slice form.
FEW_CHANNELS = 4


def _few_channel_sum(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """VALID dense correlation as a sum over taps and input channels."""
  kh, kw, in_ch, _ = kernel.shape
  out_h, out_w = _valid_out_size(x, kernel, stride)
  out = None
  for i in range(kh):
    for j in range(kw):
      tap = strided_tap(x, i, j, out_h, out_w, stride)
      for c in range(in_ch):
        term = tap[..., c:c + 1] * kernel[i, j, c]
        out = term if out is None else out + term
  return out


def _few_channel_valid_bwd(stride, residuals, g):
  x, kernel = residuals
  kh, kw, in_ch, out_ch = kernel.shape
  b, h, w, _ = x.shape
  _, out_h, out_w, _ = g.shape
  g_rows = g.reshape(b * out_h * out_w, out_ch)
  # z[..., t, c] = sum_o g[..., o] * kernel[t, c, o]: what tap t sends back to
  # input channel c; it lands at x position stride * (output position) + t.
  z = jnp.dot(g_rows, kernel.reshape(kh * kw * in_ch, out_ch).T)
  z = z.reshape(b, out_h, out_w, kh * kw, in_ch)
  dx = None
  for i in range(kh):
    for j in range(kw):
      placed = _on_stride_grid(z[:, :, :, i * kw + j], (i, j), (h, w), stride)
      dx = placed if dx is None else dx + placed
  dk = jnp.stack([
      jnp.dot(strided_tap(x, i, j, out_h, out_w, stride).reshape(-1, in_ch).T, g_rows)
      for i in range(kh) for j in range(kw)
  ]).reshape(kernel.shape)
  return dx.astype(x.dtype), dk.astype(kernel.dtype)


# VALID dense conv: x [B, H, W, I], kernel [kh, kw, I, O], small I.
_few_channel_valid = _with_vjp(_few_channel_sum, _few_channel_valid_bwd)


def few_channel_conv2d(x: jax.typing.ArrayLike, kernel: jax.typing.ArrayLike,
                       stride: int) -> jax.Array:
  """Dense 2-D convolution with few input channels and ``SAME`` padding.

  Equals ``lax.conv_general_dilated(x, kernel, (stride, stride), "SAME",
  dimension_numbers=("NHWC", "HWIO", "NHWC"))``, fast on XLA:CPU when the
  input has at most :data:`FEW_CHANNELS` channels (the first layer of an
  image network); differentiable in ``x`` and ``kernel`` through a
  hand-written VJP; works under ``jit`` and ``vmap``.

  Args:
    x: input [B, H, W, I], 1 <= I <= :data:`FEW_CHANNELS`.
    kernel: kernel [kh, kw, I, O].
    stride: spatial stride (the same for height and width), >= 1.

  Returns:
    [B, ceil(H / stride), ceil(W / stride), O].

  Raises:
    ValueError: on a non-4-D input or kernel, a kernel whose input channels
      differ from the input's, more than :data:`FEW_CHANNELS` input
      channels, or a stride < 1.
  """
  x = jnp.asarray(x)
  kernel = jnp.asarray(kernel)
  if x.ndim != 4:
    raise ValueError(f"few_channel_conv2d expects x of shape [B, H, W, I], got {x.shape}.")
  if kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
    raise ValueError(f"few_channel_conv2d expects a kernel of shape [kh, kw, {x.shape[3]}, O] "
                     f"for x of shape {x.shape}, got {kernel.shape}.")
  if not 1 <= x.shape[3] <= FEW_CHANNELS:
    raise ValueError(f"few_channel_conv2d takes 1 to {FEW_CHANNELS} input channels, got "
                     f"{x.shape[3]}; use conv_ops.conv2d.")
  stride = validation.check_positive_int(stride, "few_channel_conv2d stride")
  return _few_channel_valid(_pad_same(x, kernel, stride), kernel, stride)


def _explicit_pads(x: jax.Array, kernel: jax.Array, stride: int,
                   padding) -> tuple[tuple[int, int], tuple[int, int]]:
  if padding == "SAME":
    return tuple(same_padding(size, window, stride)
                 for size, window in zip(x.shape[1:3], kernel.shape[:2]))
  if padding == "VALID":
    return ((0, 0), (0, 0))
  return tuple((int(lo), int(hi)) for lo, hi in padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _dense(x: jax.Array, kernel: jax.Array, stride: int,
           pads: tuple[tuple[int, int], tuple[int, int]]) -> jax.Array:
  return lax.conv_general_dilated(x, kernel, (stride, stride), pads,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _dense_fwd(x, kernel, stride, pads):
  return _dense(x, kernel, stride, pads), (x, kernel)


def _dense_bwd(stride, pads, residuals, g):
  x, kernel = residuals
  # The input gradient is the correlation of the stride-dilated cotangent with
  # the flipped kernel, in and out channels swapped (lax's own transpose rule,
  # with the kernel materialized in HWIO order).
  flipped = jnp.transpose(kernel[::-1, ::-1], (0, 1, 3, 2))
  dx_pads = []
  for axis, (lo, _) in enumerate(pads):
    size, window, out = x.shape[1 + axis], kernel.shape[axis], g.shape[1 + axis]
    before = window - 1 - lo
    after = size + window - 1 - ((out - 1) * stride + 1) - before
    dx_pads.append((before, after))
  dx = lax.conv_general_dilated(g, flipped, (1, 1), dx_pads, lhs_dilation=(stride, stride),
                                dimension_numbers=("NHWC", "HWIO", "NHWC"))
  _, kernel_vjp = jax.vjp(lambda k: lax.conv_general_dilated(
      x, k, (stride, stride), pads, dimension_numbers=("NHWC", "HWIO", "NHWC")), kernel)
  return dx.astype(x.dtype), kernel_vjp(g)[0]


_dense.defvjp(_dense_fwd, _dense_bwd)


def dense_conv2d(x: jax.typing.ArrayLike, kernel: jax.typing.ArrayLike, stride: int,
                 padding="SAME") -> jax.Array:
  """Dense 2-D convolution whose input gradient stays fast inside loops.

  Equals ``lax.conv_general_dilated(x, kernel, (stride, stride), padding,
  dimension_numbers=("NHWC", "HWIO", "NHWC"))`` in value and gradients; the
  input gradient is computed as a plain convolution with the explicitly
  flipped, transposed kernel (see the module docstring).

  Args:
    x: input [B, H, W, I].
    kernel: kernel [kh, kw, I, O].
    stride: spatial stride (the same for height and width), >= 1.
    padding: ``"SAME"``, ``"VALID"`` or ``((top, bottom), (left, right))``.

  Returns:
    [B, Ho, Wo, O].

  Raises:
    ValueError: on a non-4-D input or kernel, mismatched input channels, or a
      stride < 1.
  """
  x = jnp.asarray(x)
  kernel = jnp.asarray(kernel)
  if x.ndim != 4:
    raise ValueError(f"dense_conv2d expects x of shape [B, H, W, I], got {x.shape}.")
  if kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
    raise ValueError(f"dense_conv2d expects a kernel of shape [kh, kw, {x.shape[3]}, O] "
                     f"for x of shape {x.shape}, got {kernel.shape}.")
  stride = validation.check_positive_int(stride, "dense_conv2d stride")
  return _dense(x, kernel, stride, _explicit_pads(x, kernel, stride, padding))


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
