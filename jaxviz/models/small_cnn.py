"""Small models for 28x28 grayscale images (Fashion-MNIST, MNIST)."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxviz.models import layers
from jaxviz.models import pooling

__all__ = ("LinearSoftmax", "SmallCNN")


class SmallCNN(nn.Module):
  """conv1 -> pool1 -> conv2 -> pool2 -> fc1 -> logits.

  Layer names: ``conv1`` [B, 28, 28, c1], ``pool1``, ``conv2`` [B, 14, 14, c2],
  ``pool2``, ``fc1`` [B, hidden] (the penultimate features), ``logits``.
  Input: [B, 28, 28, 1] in [0, 1]. Output: [B, num_classes] logits.
  """

  num_classes: int = 10
  channels: tuple[int, int] = (32, 64)
  hidden: int = 128
  impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    h = layers.Conv(self.channels[0], 3, activation="relu", impl=self.impl, name="conv1")(x)
    h = pooling.MaxPool(impl=self.impl, name="pool1")(h)
    h = layers.Conv(self.channels[1], 3, activation="relu", impl=self.impl, name="conv2")(h)
    h = pooling.MaxPool(impl=self.impl, name="pool2")(h)
    h = jnp.reshape(h, (h.shape[0], -1))
    h = layers.Dense(self.hidden, activation="relu", name="fc1")(h)
    return layers.Dense(self.num_classes, name="logits")(h)


class LinearSoftmax(nn.Module):
  """Linear softmax classifier: logits = flatten(x) @ W + b, W: [H*W*C, classes].

  Layer name: ``logits``. Each column of W reshaped to [H, W, C] is a class
  template (see ``jaxviz.inspect``).
  """

  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    h = jnp.reshape(x, (x.shape[0], -1))
    return layers.Dense(self.num_classes, name="logits")(h)
