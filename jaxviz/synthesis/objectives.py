"""What the ascent maximises: a class score, or a channel or neuron of a layer.

An objective reads one image's model output and returns a scalar; the
ascent loop vmaps it over the batch together with the per-image ``targets``
(one class or channel per image), so many classes or channels are optimised
at once by one compiled program, and changing the targets does not
recompile.

Kinds (``target`` is an int per image):

* ``"logit"``: the pre-softmax class score ``S_c`` (Simonyan et al. 2013,
  https://arxiv.org/abs/1312.6034 ; Yosinski et al. 2015's fc8 units). The
  target is a *logit index*: for MobileNet's 1001 logits, ImageNet class
  ``k`` is logit ``k + meta.label_offset`` (background at 0).
* ``"log_probability"``: ``log softmax(logits)_c``, which also pushes the
  other classes down.
* ``"channel"``: the mean of channel ``c`` of a layer's activation over its
  spatial positions (Lucid's ``channel`` objective, Olah et al. 2017,
  https://distill.pub/2017/feature-visualization/); for a dense layer
  ``[C]``, unit ``c``.
* ``"neuron"``: channel ``c`` at the centre position of the activation
  (Lucid's ``neuron``; Yosinski's "center unit" of a conv layer).

The layer is reached by a layer function ``fn(x, delta) -> (logits,
activation)`` (:mod:`jaxviz.models.taps`); :func:`layer_fn` builds one from a
Flax model and a layer name (``None`` for the logits).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxviz.models import taps

__all__ = ("CLASS_KINDS", "OBJECTIVES", "Objective", "layer_fn")

OBJECTIVES = ("logit", "log_probability", "channel", "neuron")
CLASS_KINDS = ("logit", "log_probability")


@dataclasses.dataclass(frozen=True)
class Objective:
  """A per-image objective (see the module docstring).

  Attributes:
    kind: one of :data:`OBJECTIVES`.
  """

  kind: str = "logit"

  def __post_init__(self):
    if self.kind not in OBJECTIVES:
      raise ValueError(f"Unknown objective {self.kind!r}; expected one of {OBJECTIVES}.")

  @property
  def reads_logits(self) -> bool:
    """Whether the objective reads the logits (else the layer's activation)."""
    return self.kind in CLASS_KINDS

  def target_axis_size(self, logits_shape: Sequence[int], activation_shape: Sequence[int]) -> int:
    """How many targets there are: logits K, or the activation's channels C."""
    return int((logits_shape if self.reads_logits else activation_shape)[-1])

  def check_source(self, activation_shape: Sequence[int]) -> None:
    """Raises ValueError if a ``"neuron"`` objective has no spatial axes to centre on."""
    if self.kind == "neuron" and len(activation_shape) < 3:
      raise ValueError(f"The 'neuron' objective needs a spatial activation [B, h, w, C], got "
                       f"shape {tuple(activation_shape)}; use 'channel' for a dense layer.")

  def __call__(self, logits: jax.Array, activation: jax.Array, target: jax.Array) -> jax.Array:
    """The objective of one image: ``logits`` [K], ``activation`` [..., C], int ``target``."""
    if self.kind == "logit":
      return logits[target]
    if self.kind == "log_probability":
      return jax.nn.log_softmax(logits)[target]
    channel = jnp.take(activation, target, axis=-1)
    if self.kind == "channel":
      return jnp.mean(channel)
    center = tuple(size // 2 for size in channel.shape)
    return channel[center]


def layer_fn(model, variables, layer: str | None, input_shape: Sequence[int]) -> taps.LayerFn:
  """A layer function for ``layer`` of a Flax model (``None``: the logits themselves).

  Args:
    model: a Flax linen module returning logits.
    variables: its variables, e.g. ``{"params": params}``.
    layer: a layer name such as ``"expanded_conv_5"`` or
      ``"expanded_conv_3/expand"``; ``None`` for class objectives.
    input_shape: ``[B, H, W, C]`` used to validate the name now.

  Returns:
    ``fn(x, delta) -> (logits, activation)``; for ``layer=None`` the
    activation is the logits.

  Raises:
    ValueError: an unknown layer name (the message lists the valid ones).
  """
  if layer is None:
    apply = lambda x: model.apply(variables, x)
    return taps.split_layer_fn(apply, lambda logits: logits)
  return taps.flax_layer_fn(model, variables, layer, input_shape=tuple(input_shape))
