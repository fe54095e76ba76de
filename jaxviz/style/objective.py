"""The style transfer objective: targets from the content and style images, and the loss terms.

The features of every layer go through the config's transform (SWAG's
softmax or none) before both losses. Content targets are the content
image's (transformed) features; style targets are the Gram matrices of each
style image's features. The loss of images ``x`` is

``content_weight * content + style_weight * style + tv_weight * tv``

with the terms of :mod:`jaxviz.style.losses` and the TV on 8-bit pixel
values of ``x``.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz.models.meta import ModelMeta
from jaxviz.style import losses
from jaxviz.style import remedies
from jaxviz.style.config import StyleConfig
from jaxviz.style.features import FeatureExtractor

__all__ = ("TERMS", "Targets", "loss_terms", "make_targets", "pixels_255")

# The loss terms every run reports: unweighted content, style and TV, and the weighted total.
TERMS = ("content", "style", "tv", "total")


class Targets(NamedTuple):
  """What the images are pulled towards.

  Attributes:
    content: layer -> [1, h, w, c] transformed content features.
    grams: layer -> [S, C, C] Gram matrices of the S style images.
  """

  content: Mapping[str, jax.Array]
  grams: Mapping[str, jax.Array]


def pixels_255(x: jax.Array, meta: ModelMeta) -> jax.Array:
  """Model inputs [..., C] -> pixel values in 8-bit units (0..255 inside the bounds)."""
  std, mean = np.asarray(meta.std, np.float32), np.asarray(meta.mean, np.float32)
  return (x * std + mean) * 255.0


def _transformed(features: FeatureExtractor, config: StyleConfig, x: jax.Array,
                 layers) -> dict[str, jax.Array]:
  out = features(x)
  if config.swag:
    return {name: remedies.swag_softmax(out[name], config.swag_temperature) for name in layers}
  return {name: out[name] for name in layers}


def make_targets(features: FeatureExtractor, config: StyleConfig, content: jax.Array,
                 styles: jax.Array) -> Targets:
  """Content features and style Gram matrices.

  Args:
    features: the feature extractor.
    config: layers and transform.
    content: [1, H, W, C] content image in input space.
    styles: [S, Hs, Ws, C] style images in input space (any size: Gram
      matrices are normalised by the number of elements).

  Returns:
    :class:`Targets`.
  """
  content_layers = [n for n, _ in config.content_layers]
  style_layers = [n for n, _ in config.style_layers]
  content_features = _transformed(features, config, content, content_layers)
  style_features = _transformed(features, config, styles, style_layers)
  return Targets(content_features,
                 {name: losses.gram_matrix(style_features[name]) for name in style_layers})


def loss_terms(features: FeatureExtractor, config: StyleConfig, meta: ModelMeta, x: jax.Array,
               targets: Targets, weights: jax.Array) -> dict[str, jax.Array]:
  """The loss terms of images ``x``, one value per image.

  Args:
    features: the feature extractor.
    config: layers, per-layer weights and transform.
    meta: the model's metadata (for the TV's pixel units).
    x: [B, H, W, C] images in input space.
    targets: :class:`Targets` whose Gram matrices broadcast against ``x``'s
      ([B or 1, C, C]).
    weights: [3] or [B, 3] (content, style, TV) weights.

  Returns:
    :data:`TERMS` -> [B]: the unweighted ``content``, ``style`` and ``tv`` and
    the weighted ``total``.
  """
  feats = _transformed(features, config, x, config.layers)
  batch = x.shape[0]
  zero = jnp.zeros((batch,), jnp.float32)
  content = (losses.content_loss(feats, targets.content, dict(config.content_layers))
             if config.content_layers else zero)
  style = (losses.style_loss({n: losses.gram_matrix(feats[n]) for n, _ in config.style_layers},
                             targets.grams, dict(config.style_layers))
           if config.style_layers else zero)
  tv = losses.total_variation(pixels_255(x, meta))
  w = jnp.broadcast_to(jnp.asarray(weights, jnp.float32), (batch, 3))
  total = w[:, 0] * content + w[:, 1] * style + w[:, 2] * tv
  return {"content": content, "style": style, "tv": tv, "total": total}
