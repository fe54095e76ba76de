"""An independent quality number: the Gram style distance measured by a network not optimised.

A stylisation can lower the style loss of the network it was optimised
through without looking any more like the style (an adversarial texture).
:class:`StyleJudge` measures the style distance of 8-bit results to their
style images with another network, by default ImageNet MobileNetV1 0.25 at
128x128 (``load_model("mobilenet_v1")``): at each of its layers the relative
squared Frobenius error of the Gram matrices ``||G - A||^2 / ||A||^2``,
averaged over the layers. It is scale-free (each layer counts alike), 0 for
an image with the style's statistics and about 1 or more for an unrelated
image.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz.data import preprocess
from jaxviz.models import registry
from jaxviz.models.meta import ModelMeta
from jaxviz.style import losses
from jaxviz.style.features import LayerFeatures

__all__ = ("HELDOUT_LAYERS", "HELDOUT_MODEL", "StyleJudge", "load_style_judge")

HELDOUT_MODEL = "mobilenet_v1"
# One ReLU6 output per resolution of MobileNetV1 at 128x128: 64, 32, 16 and 8 pixels.
HELDOUT_LAYERS = ("Conv2d_1_pointwise", "Conv2d_3_pointwise", "Conv2d_5_pointwise",
                  "Conv2d_11_pointwise")


@functools.partial(jax.jit, static_argnames=("features",))
def _grams(features, x):
  """One [N, C, C] Gram matrix per layer of ``features``."""
  fx = features(x)
  return [losses.gram_matrix(fx[name]) for name in features.layers]


@jax.jit
def _relative_gram_errors(grams, style_grams):
  """[N]: the layer mean of ``||G - A||^2 / ||A||^2`` (A: [N or 1, C, C], broadcast)."""
  errors = [jnp.sum(jnp.square(g - a), axis=(1, 2)) / jnp.sum(jnp.square(a), axis=(1, 2))
            for g, a in zip(grams, style_grams)]
  return jnp.mean(jnp.stack(errors), axis=0)


class StyleJudge:
  """Gram style distances of images to style images, seen by a held-out network.

  Args:
    model: a Flax model (the judge; not the one the images were optimised with).
    params: its ``params``.
    meta: its metadata; images are resized to ``meta.input_shape[:2]``.
    layers: the layers whose Gram matrices are compared.
  """

  def __init__(self, model: Any, params: Any, meta: ModelMeta,
               layers: Sequence[str] = HELDOUT_LAYERS):
    self.meta = meta
    self.features = LayerFeatures(model, params, layers, (1,) + tuple(meta.input_shape))

  def _inputs(self, pixels: np.ndarray, name: str) -> jax.Array:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
      raise ValueError(f"{name} must be uint8 RGB pixels [N, H, W, 3], got {pixels.dtype} "
                       f"{pixels.shape}.")
    return jnp.asarray(preprocess.prepare_for_model(pixels, self.meta))

  def __call__(self, pixels: np.ndarray, style_pixels: np.ndarray) -> np.ndarray:
    """Distances [N] of ``pixels`` [N, H, W, 3] to ``style_pixels`` [N or 1, Hs, Ws, 3] (uint8).

    Raises:
      ValueError: not uint8 RGB batches, or batch sizes that do not pair up.
    """
    x, s = self._inputs(pixels, "pixels"), self._inputs(style_pixels, "style_pixels")
    if s.shape[0] not in (1, x.shape[0]):
      raise ValueError(f"style_pixels must hold 1 or {x.shape[0]} images, got {s.shape[0]}.")
    # Each style image's Grams once, broadcast over the results that share it.
    return np.asarray(_relative_gram_errors(_grams(self.features, x), _grams(self.features, s)))


def load_style_judge(name: str = HELDOUT_MODEL, layers: Sequence[str] = HELDOUT_LAYERS,
                     **load_kwargs) -> StyleJudge:
  """A :class:`StyleJudge` on a registry model (default MobileNetV1 0.25 at 128x128)."""
  model, params, meta = registry.load_model(name, **load_kwargs)
  return StyleJudge(model, params, meta, layers)
