"""MobileNetV1 and MobileNetV2 (TF-slim layout) in Flax.

Papers: MobileNetV1 https://arxiv.org/abs/1704.04861 ,
MobileNetV2 https://arxiv.org/abs/1801.04381 .

Layer names follow the TF graph of the published checkpoints, with the
``MobilenetV2/`` prefix dropped: ``Conv``, ``expanded_conv/depthwise``,
``expanded_conv_3/expand``, ``expanded_conv_3`` (block output, after the
residual add), ``Conv_1``, ``pool`` (global average), ``Logits``. BatchNorm is
folded into the conv biases, so every conv has a bias and there is no BN
layer. Activations are ReLU6; all convs use TF-style ``SAME`` padding.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxviz.models import layers

__all__ = ("GlobalAvgPool", "InvertedResidual", "MobileNetV1", "MobileNetV2", "V1_CHANNELS",
           "V1_STRIDES", "V2_BLOCKS")

# (expansion t, output channels c, repeats n, first stride s) from the paper.
V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
V1_STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
V1_CHANNELS = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


def _make_divisible(v: float, divisor: int = 8) -> int:
  new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
  if new_v < 0.9 * v:
    new_v += divisor
  return new_v


class GlobalAvgPool(nn.Module):
  """Mean over H and W, keeping them as 1x1: [B, H, W, C] -> [B, 1, 1, C]."""

  @nn.compact
  def __call__(self, x):
    return jnp.mean(x, axis=(1, 2), keepdims=True)


class InvertedResidual(nn.Module):
  """MobileNetV2 block: [expand 1x1] -> depthwise 3x3 -> project 1x1 (+ skip)."""

  expansion: int
  features: int
  stride: int
  impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    in_ch = x.shape[-1]
    h = x
    if self.expansion != 1:
      h = layers.Conv(in_ch * self.expansion, 1, activation="relu6",
                      impl=self.impl, name="expand")(h)
    h = layers.Conv(h.shape[-1], 3, self.stride, activation="relu6", depthwise=True,
                    impl=self.impl, name="depthwise")(h)
    h = layers.Conv(self.features, 1, activation="none", impl=self.impl, name="project")(h)
    if self.stride == 1 and in_ch == self.features:
      h = h + x
    return h


class _MobileNet(nn.Module):
  """A TF-slim MobileNet classifier. Input [B, H, W, 3] in [-1, 1]; output [B, num_logits].

  Attributes:
    num_logits: 1001 for the TF-slim ImageNet checkpoints (0 = background).
    width: depth multiplier (1.0/224 V2 and 0.25/128 V1 weights are published).
    impl: convolution implementation (see :mod:`jaxviz.models.conv_ops`).
  """

  num_logits: int = 1001
  width: float = 1.0
  impl: str = "auto"

  def _channels(self, c: int) -> int:
    return _make_divisible(c * self.width)

  def _head(self, h):
    """Global average pool and the 1x1 ``Logits`` conv: [B, h, w, C] -> [B, num_logits]."""
    h = GlobalAvgPool(name="pool")(h)
    h = layers.Conv(self.num_logits, 1, activation="none", impl=self.impl, name="Logits")(h)
    return h[:, 0, 0, :]


class MobileNetV2(_MobileNet):
  """MobileNetV2 (https://arxiv.org/abs/1801.04381); see :class:`_MobileNet`."""

  @nn.compact
  def __call__(self, x):
    ch = self._channels
    h = layers.Conv(ch(32), 3, 2, activation="relu6", impl=self.impl, name="Conv")(x)
    idx = 0
    for t, c, n, s in V2_BLOCKS:
      for i in range(n):
        name = "expanded_conv" if idx == 0 else f"expanded_conv_{idx}"
        h = InvertedResidual(t, ch(c), s if i == 0 else 1, impl=self.impl, name=name)(h)
        idx += 1
    last = _make_divisible(1280 * max(1.0, self.width))
    h = layers.Conv(last, 1, activation="relu6", impl=self.impl, name="Conv_1")(h)
    return self._head(h)


class MobileNetV1(_MobileNet):
  """MobileNetV1 (https://arxiv.org/abs/1704.04861); see :class:`_MobileNet`."""

  @nn.compact
  def __call__(self, x):
    ch = self._channels
    h = layers.Conv(ch(32), 3, 2, activation="relu6", impl=self.impl, name="Conv2d_0")(x)
    for i, (s, c) in enumerate(zip(V1_STRIDES, V1_CHANNELS), start=1):
      h = layers.Conv(h.shape[-1], 3, s, activation="relu6", depthwise=True,
                      impl=self.impl, name=f"Conv2d_{i}_depthwise")(h)
      h = layers.Conv(ch(c), 1, activation="relu6", impl=self.impl,
                      name=f"Conv2d_{i}_pointwise")(h)
    return self._head(h)
