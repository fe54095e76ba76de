"""Named building blocks shared by the jaxviz models.

Each block is a Flax module whose *output is the activated output*, so a
layer name (the module path, e.g. ``"expanded_conv_3/expand"``) addresses
what a researcher means by "the activations of that layer".
"""

from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxviz.models import conv_ops

__all__ = ("ACTIVATIONS", "Conv", "Dense")

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array] | None] = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "none": None,
}


def _activation(name: str):
  if name not in ACTIVATIONS:
    raise ValueError(f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}.")
  return ACTIVATIONS[name]


class Conv(nn.Module):
  """Conv (+ bias) + activation. Params: ``kernel`` [kh, kw, I, O], ``bias`` [O].

  Attributes:
    features: output channels.
    kernel_size: square kernel size.
    stride: spatial stride.
    activation: ``"relu"``, ``"relu6"`` or ``"none"``.
    depthwise: if True, a depthwise conv with kernel [kh, kw, 1, C].
    padding: ``"SAME"`` (TF-style) or ``"VALID"`` or explicit pairs.
    impl: convolution implementation, see :mod:`jaxviz.models.conv_ops`.
  """

  features: int
  kernel_size: int = 3
  stride: int = 1
  activation: str = "relu"
  depthwise: bool = False
  padding: str | tuple = "SAME"
  impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    in_ch = x.shape[-1]
    k = self.kernel_size
    if self.depthwise:
      if self.features != in_ch:
        raise ValueError(f"Depthwise conv needs features == input channels, got "
                         f"{self.features} vs {in_ch}.")
      kshape = (k, k, 1, in_ch)
    else:
      kshape = (k, k, in_ch, self.features)
    kernel = self.param("kernel", nn.initializers.lecun_normal(), kshape, jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
    if self.depthwise:
      y = conv_ops.depthwise_conv2d(x, kernel, self.stride, self.padding, impl=self.impl)
    else:
      y = conv_ops.conv2d(x, kernel, self.stride, self.padding, impl=self.impl)
    y = conv_ops.add_bias(y, bias)
    act = _activation(self.activation)
    return y if act is None else act(y)


class Dense(nn.Module):
  """Dense + activation. Params: ``kernel`` [I, O], ``bias`` [O]."""

  features: int
  activation: str = "none"

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    y = x @ kernel + bias
    act = _activation(self.activation)
    return y if act is None else act(y)
