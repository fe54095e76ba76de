"""Feature extractors: the activations of named layers of any model, in one pass.

Style transfer needs a *feature extractor*, any callable
``features(x) -> {layer name: [B, h, w, c]}`` over model inputs ``x``
[B, H, W, C]. :class:`LayerFeatures` builds one for a Flax model from layer
names (module paths such as ``"conv4_2"`` for VGG or
``"expanded_conv_3/expand"`` for MobileNetV2) through
:func:`jaxviz.models.taps.activations`; a plain JAX function returning such
a dict works as well.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import flax.linen as nn
import jax

from jaxviz.models import taps

__all__ = ("FeatureExtractor", "LayerFeatures", "check_extractor_layers")

FeatureExtractor = Callable[[jax.Array], Mapping[str, jax.Array]]


class LayerFeatures:
  """The outputs of named layers of a Flax model, all from one forward pass.

  Instances compare by identity, so a jitted method that takes one as a
  static argument compiles once per extractor.

  Args:
    model: a Flax linen module.
    params: its ``params``.
    layers: the layer names to return.
    input_shape: an input shape ``[B, H, W, C]`` against which the names are
      checked now.

  Raises:
    ValueError: an unknown layer name (the message lists the valid ones), or
      no layer.
  """

  def __init__(self, model: nn.Module, params: Any, layers: Sequence[str],
               input_shape: Sequence[int]):
    self.layers = tuple(dict.fromkeys(layers))
    if not self.layers:
      raise ValueError("LayerFeatures needs at least one layer name.")
    self.model = model
    self.variables = {"params": params}
    taps.check_layer_names(model, self.variables, tuple(input_shape), self.layers)

  def __call__(self, x: jax.Array) -> dict[str, jax.Array]:
    """``{layer: [B, h, w, c]}`` for inputs ``x`` [B, H, W, C]."""
    return taps.activations(self.model, self.variables, x, self.layers)


def check_extractor_layers(features: FeatureExtractor, input_shape: Sequence[int],
                           layers: Sequence[str]) -> dict[str, tuple[int, ...]]:
  """Checks that ``features`` returns every one of ``layers`` as a [B, h, w, c] map.

  Only shapes are traced (``jax.eval_shape``), nothing is computed.

  Args:
    features: a feature extractor.
    input_shape: ``[B, H, W, C]`` of the inputs it will see.
    layers: the layer names the losses need.

  Returns:
    Layer name -> its output shape, for ``layers``.

  Raises:
    ValueError: a layer is missing (the message lists the ones returned) or
      is not a rank-4 map.
  """
  shapes = jax.eval_shape(features, jax.ShapeDtypeStruct(tuple(input_shape), "float32"))
  missing = [name for name in layers if name not in shapes]
  if missing:
    raise ValueError(f"The feature extractor does not return layer(s) {missing}; it returns "
                     f"{sorted(shapes)}.")
  bad = {name: tuple(shapes[name].shape) for name in layers if len(shapes[name].shape) != 4}
  if bad:
    raise ValueError(f"Style and content layers must be [B, h, w, c] maps; got {bad}.")
  return {name: tuple(shapes[name].shape) for name in layers}
