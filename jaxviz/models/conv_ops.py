"""Convolution primitives used by every jaxviz model, with a backend switch.

All ops take NHWC inputs and HWIO kernels and use TF-style ``SAME`` padding
(XLA's ``SAME`` pads the extra row/column at the end for stride 2, exactly as
TensorFlow and TFLite do).

``impl`` selects the implementation:
  * ``"native"``: ``lax.conv_general_dilated`` (what GPU/TPU run best);
  * ``"fast"``: forms that XLA:CPU runs well (see ``fast_conv``) with the
    same math: depthwise convs, 1x1 convs and dense convs on inputs with
    few channels (first layers) in other forms; other dense convs keep the
    native forward with a gradient that stays fast inside loops;
  * ``"auto"`` (default): ``"fast"`` when the default backend is CPU, else
    ``"native"``.
"""

from __future__ import annotations

import jax
from jax import lax
import jax.numpy as jnp

from jaxviz.models import fast_conv

__all__ = ("add_bias", "conv2d", "conv2d_native", "depthwise_conv2d", "IMPLS", "resolve_impl")

IMPLS = ("auto", "native", "fast")
_DIMS = ("NHWC", "HWIO", "NHWC")


def resolve_impl(impl: str) -> str:
  if impl not in IMPLS:
    raise ValueError(f"Unknown conv impl {impl!r}; expected one of {IMPLS}.")
  if impl == "auto":
    return "fast" if jax.default_backend() == "cpu" else "native"
  return impl


def conv2d_native(x, kernel, stride=1, padding="SAME", groups=1):
  """Plain ``lax.conv_general_dilated`` (NHWC, HWIO)."""
  return lax.conv_general_dilated(
      x, kernel, window_strides=(stride, stride), padding=padding,
      dimension_numbers=_DIMS, feature_group_count=groups)


def conv2d(x, kernel, stride=1, padding="SAME", impl="auto"):
  """Dense 2-D convolution. x: [B, H, W, I], kernel: [kh, kw, I, O]."""
  impl = resolve_impl(impl)
  if impl == "fast":
    if kernel.shape[:2] == (1, 1) and stride == 1 and padding in ("SAME", "VALID"):
      return fast_conv.pointwise_conv2d(x, kernel)
    if padding == "SAME" and x.shape[-1] <= fast_conv.FEW_CHANNELS:
      return fast_conv.few_channel_conv2d(x, kernel, stride)
    return fast_conv.dense_conv2d(x, kernel, stride, padding)
  return conv2d_native(x, kernel, stride, padding)


def depthwise_conv2d(x, kernel, stride=1, padding="SAME", impl="auto"):
  """Depthwise 2-D convolution. x: [B, H, W, C], kernel: [kh, kw, 1, C]."""
  impl = resolve_impl(impl)
  if impl == "fast" and padding == "SAME":
    return fast_conv.depthwise_conv2d(x, kernel, stride)
  return conv2d_native(x, kernel, stride, padding, groups=x.shape[-1])


def add_bias(y, bias):
  return y + jnp.asarray(bias, y.dtype)
