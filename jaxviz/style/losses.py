"""The three loss terms of neural style transfer, as pure per-image functions.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016 (https://openaccess.thecvf.com/content_cvpr_2016/html/
Gatys_Image_Style_Transfer_CVPR_2016_paper.html); the normalisations follow
jcjohnson/neural-style, so that its published weights (content 5, style 100,
TV 1e-3) mean the same here:

* Gram matrix ``G = F^T F / (H W C)`` of a feature map ``F`` [H W, C]
  (normalised by the number of elements, so that it does not grow with the
  image size);
* content loss: the mean squared difference of feature maps;
* style loss: the mean squared difference of Gram matrices;
* total variation: half the sum of squared differences of neighbouring
  pixels, in 8-bit pixel units (the caller converts).

Every function keeps the batch axis and returns one value per image, so a
batch of images (or of styles under ``vmap``) is a batch of independent
problems.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

__all__ = ("content_loss", "gram_matrix", "mean_squared_difference", "style_loss",
           "total_variation")

_HIGHEST = jax.lax.Precision.HIGHEST


def gram_matrix(features: jax.typing.ArrayLike) -> jax.Array:
  """Normalised Gram matrices of feature maps.

  Args:
    features: [B, H, W, C] activations of one layer.

  Returns:
    [B, C, C] with entry ``(i, j) = sum_p F[p, i] F[p, j] / (H W C)`` over the
    ``H W`` positions ``p``.
  """
  features = jnp.asarray(features)
  if features.ndim != 4:
    raise ValueError(f"gram_matrix expects [B, H, W, C] features, got shape {features.shape}.")
  b, h, w, c = features.shape
  flat = features.reshape(b, h * w, c)
  return jnp.einsum("bpi,bpj->bij", flat, flat, precision=_HIGHEST) / (h * w * c)


def mean_squared_difference(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike) -> jax.Array:
  """Mean of ``(a - b)^2`` over all axes but the first: [B, ...] x [B or 1, ...] -> [B]."""
  diff = jnp.asarray(a) - jnp.asarray(b)
  return jnp.mean(jnp.square(diff).reshape(diff.shape[0], -1), axis=1)


def content_loss(features: Mapping[str, jax.Array], targets: Mapping[str, jax.Array],
                 layer_weights: Mapping[str, float]) -> jax.Array:
  """``sum_l w_l * mean((F_l - P_l)^2)``: how far the features are from the content's.

  Args:
    features: layer name -> [B, H, W, C] activations of the images.
    targets: layer name -> [B or 1, H, W, C] activations of the content image.
    layer_weights: layer name -> weight >= 0; the layers summed over.

  Returns:
    [B] one loss per image.
  """
  return sum(w * mean_squared_difference(features[name], targets[name])
             for name, w in layer_weights.items())


def style_loss(grams: Mapping[str, jax.Array], target_grams: Mapping[str, jax.Array],
               layer_weights: Mapping[str, float]) -> jax.Array:
  """``sum_l w_l * mean((G_l - A_l)^2)`` over Gram matrices (see :func:`gram_matrix`).

  Args:
    grams: layer name -> [B, C, C] Gram matrices of the images.
    target_grams: layer name -> [B or 1, C, C] Gram matrices of the style image(s).
    layer_weights: layer name -> weight >= 0; the layers summed over.

  Returns:
    [B] one loss per image; zero exactly when every weighted Gram matrix matches.
  """
  return sum(w * mean_squared_difference(grams[name], target_grams[name])
             for name, w in layer_weights.items())


def total_variation(pixels: jax.typing.ArrayLike) -> jax.Array:
  """Half the sum of squared differences of horizontally and vertically adjacent pixels.

  This is the energy whose gradient jcjohnson/neural-style's ``TVLoss`` adds
  (there with 0-255 pixel values): with pixels in 8-bit units, its weight
  1e-3 means the same as there.

  Args:
    pixels: [B, H, W, C] images (any units; 8-bit units for jcjohnson's weight).

  Returns:
    [B] one value per image.
  """
  pixels = jnp.asarray(pixels)
  if pixels.ndim != 4:
    raise ValueError(f"total_variation expects [B, H, W, C] images, got shape {pixels.shape}.")
  down = jnp.square(pixels[:, 1:] - pixels[:, :-1]).sum(axis=(1, 2, 3))
  right = jnp.square(pixels[:, :, 1:] - pixels[:, :, :-1]).sum(axis=(1, 2, 3))
  return 0.5 * (down + right)
