"""What a style transfer run optimises and how: :class:`StyleConfig`.

Every choice is a field, validated when the config is made (before any
computation): the layers and their weights, the loss weights, the feature
transform (SWAG), the optimiser (L-BFGS with its line search, or Adam), the
initial image and the number of iterations. A config is hashable; the jitted
loop compiles once per config and image shape. The three loss weights
(content, style, TV) are traced arguments of the loop, so runs that differ
only in them (a weight sweep) share one compilation and can share one
batched run (see :func:`jaxviz.style.style_transfer`).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Mapping, Sequence

from jaxviz import validation
from jaxviz.synthesis.parameterizations import PARAMETERIZATIONS

__all__ = ("INITS", "OPTIMIZERS", "PARAMETERIZATIONS", "LayerWeights", "StyleConfig",
           "layer_weights")

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "style", "noise")

LayerWeights = tuple[tuple[str, float], ...]


def layer_weights(layers: Mapping[str, float] | Sequence[str] | Sequence[tuple[str, float]],
                  name: str) -> LayerWeights:
  """``(layer, weight)`` pairs from a mapping, pairs, or bare names (weight 1).

  Raises:
    ValueError: a name that is not a non-empty string, a repeated layer, or a
      weight that is not a finite number >= 0.
  """
  if isinstance(layers, str):
    raise ValueError(f"{name} must be a collection of layer names, got the string {layers!r} "
                     f"(write ({layers!r},)).")
  items = layers.items() if isinstance(layers, Mapping) else [
      (item, 1.0) if isinstance(item, str) else tuple(item) for item in layers]
  pairs = []
  for item in items:
    if len(item) != 2 or not isinstance(item[0], str) or not item[0]:
      raise ValueError(f"{name}: expected layer names or (name, weight) pairs, got {item!r}.")
    pairs.append((item[0], validation.check_non_negative(item[1], f"{name}[{item[0]!r}]")))
  names = [n for n, _ in pairs]
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise ValueError(f"{name}: layer(s) {repeated} given more than once.")
  return tuple(pairs)


@dataclasses.dataclass(frozen=True)
class StyleConfig:
  """A style transfer problem and its optimiser.

  Attributes:
    content_layers: ``(layer, weight)`` pairs of the content loss (a mapping
      or bare names are accepted and normalised).
    style_layers: ``(layer, weight)`` pairs of the Gram style loss.
    content_weight: weight of the content loss, >= 0.
    style_weight: weight of the style loss, >= 0.
    tv_weight: weight of the total variation (8-bit pixel units), >= 0.
    swag: smooth every layer with SWAG's softmax before the losses
      (:func:`jaxviz.style.swag_softmax`).
    swag_temperature: its temperature ``T`` (> 0).
    optimizer: ``"lbfgs"`` (optax's, with its zoom line search) or
      ``"adam"``.
    iterations: optimiser steps (an L-BFGS step may evaluate the loss more
      than once in its line search).
    learning_rate: Adam's step in pixel units ([0, 1] per channel), converted
      to input units by ``meta.pixel_budget``; unused by L-BFGS.
    lbfgs_memory: number of past updates L-BFGS keeps.
    max_linesearch_steps: most loss evaluations of one line search.
    init: the first image: ``"content"``, ``"style"`` (the style image at the
      content's size) or ``"noise"`` (mid-grey plus Gaussian noise).
    init_noise: the noise's standard deviation in pixel units ([0, 1]).
    parameterization: what is optimised: ``"pixel"`` (the image) or
      ``"fourier"`` (Lucid's decorrelated Fourier spectrum, see
      :func:`jaxviz.style.image_parameterization`); either starts from the
      ``init`` image. With ``"fourier"``, Adam's ``learning_rate`` is in
      spectrum units.
    fourier_decay: the Fourier spectrum's ``1/f`` exponent.
    log_every: steps per jitted call of the loop; progress (with every loss
      term) and the non-finite check happen between calls.
  """

  content_layers: LayerWeights
  style_layers: LayerWeights
  content_weight: float = 5.0
  style_weight: float = 100.0
  tv_weight: float = 1e-3
  swag: bool = False
  swag_temperature: float = 1.0
  optimizer: str = "lbfgs"
  iterations: int = 1000
  learning_rate: float = 0.02
  lbfgs_memory: int = 20
  max_linesearch_steps: int = 10
  init: str = "content"
  init_noise: float = 0.1
  parameterization: str = "pixel"
  fourier_decay: float = 1.0
  log_every: int = 25

  def __post_init__(self):
    set_ = lambda name, value: object.__setattr__(self, name, value)
    set_("content_layers", layer_weights(self.content_layers, "content_layers"))
    set_("style_layers", layer_weights(self.style_layers, "style_layers"))
    for name in ("content_weight", "style_weight", "tv_weight", "learning_rate", "init_noise",
                 "fourier_decay"):
      set_(name, validation.check_non_negative(getattr(self, name), name))
    for name in ("iterations", "lbfgs_memory", "max_linesearch_steps", "log_every"):
      set_(name, validation.check_positive_int(getattr(self, name), name))
    if not isinstance(self.swag, bool):
      raise ValueError(f"swag must be True or False, got {self.swag!r}.")
    if (isinstance(self.swag_temperature, bool)
        or not isinstance(self.swag_temperature, numbers.Real) or not self.swag_temperature > 0):
      raise ValueError(f"swag_temperature must be a number > 0, got {self.swag_temperature!r}.")
    set_("swag_temperature", float(self.swag_temperature))
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"Unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}.")
    if self.parameterization not in PARAMETERIZATIONS:
      raise ValueError(f"Unknown parameterization {self.parameterization!r}; expected one of "
                       f"{PARAMETERIZATIONS}.")
    if self.init not in INITS:
      raise ValueError(f"Unknown init {self.init!r}; expected one of {INITS}.")
    if self.optimizer == "adam" and self.learning_rate == 0:
      raise ValueError("learning_rate must be > 0 for Adam.")
    if self.content_weight > 0 and not self.content_layers:
      raise ValueError("content_weight > 0 needs at least one content layer.")
    if self.style_weight > 0 and not self.style_layers:
      raise ValueError("style_weight > 0 needs at least one style layer.")

  @property
  def layers(self) -> tuple[str, ...]:
    """Every layer the losses read, content layers first, each once."""
    return tuple(dict.fromkeys([n for n, _ in self.content_layers]
                               + [n for n, _ in self.style_layers]))

  def replace(self, **changes) -> "StyleConfig":
    """A copy with ``changes`` applied (and validated)."""
    return dataclasses.replace(self, **changes)
