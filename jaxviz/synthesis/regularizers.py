"""Image-space regularizers of class-model and regularized visualization.

Simonyan et al. 2013 (https://arxiv.org/abs/1312.6034) maximise
``S_c(x) - lambda ||x||^2``: :func:`l2_penalty`. Yosinski et al. 2015
(https://arxiv.org/abs/1506.06579, section 3) apply four operators ``r(x)``
to the image after every gradient step instead:

* L2 decay: ``x <- (1 - decay) x`` (:func:`decay`);
* Gaussian blur of width ``sigma`` every ``k`` steps (:func:`gaussian_blur`);
* clipping pixels with small norm: pixels whose norm over the channels is
  below the ``p``-th percentile of the image's pixel norms are set to zero
  (:func:`clip_small_norm`);
* clipping pixels with small contribution: the first-order estimate of how
  much the objective would change if a pixel were set to zero is
  ``sum_c -x_c * dS/dx_c``; pixels whose absolute estimate is below the
  ``p``-th percentile are set to zero (:func:`clip_small_contribution`).

"Zero" is the zero of the model's input space: the normalisation mean
(Caffe's mean-subtracted images have the dataset mean there; MobileNet's
``[-1, 1]`` mid-grey; the small CNN's ``[0, 1]`` black). Every function
works on a batch ``[B, H, W, C]``, each image on its own; they are pure and
jittable. Percentiles are ``jnp.percentile``'s (linear interpolation), and a
pixel is clipped when it is strictly below the percentile.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxviz import validation

__all__ = (
    "BLUR_TRUNCATE",
    "clip_small_contribution",
    "clip_small_norm",
    "decay",
    "gaussian_blur",
    "gaussian_kernel",
    "l2_penalty",
)

# Kernel radius in sigmas, as scipy.ndimage.gaussian_filter's default truncate.
BLUR_TRUNCATE = 4.0


def l2_penalty(images: jax.Array) -> jax.Array:
  """``||x||^2`` per image: [B, H, W, C] -> [B]."""
  return jnp.sum(jnp.square(images), axis=(1, 2, 3))


def decay(images: jax.Array, rate: float) -> jax.Array:
  """Yosinski's L2 decay ``(1 - rate) x``."""
  return (1.0 - rate) * images


def gaussian_kernel(sigma: float) -> jax.Array:
  """The normalised 1-D Gaussian of std ``sigma`` pixels, radius ``ceil(4 sigma)``."""
  sigma = validation.check_non_negative(sigma, "blur sigma")
  radius = max(1, math.ceil(BLUR_TRUNCATE * sigma))
  offsets = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  weights = jnp.exp(-0.5 * jnp.square(offsets / max(sigma, 1e-12)))
  return weights / jnp.sum(weights)


def _blur_axis(images: jax.Array, kernel: jax.Array, axis: int) -> jax.Array:
  radius = (kernel.shape[0] - 1) // 2
  widths = [(0, 0)] * images.ndim
  widths[axis] = (radius, radius)
  padded = jnp.pad(images, widths, mode="symmetric")
  size = images.shape[axis]
  return sum(kernel[i] * jax.lax.slice_in_dim(padded, i, i + size, axis=axis)
             for i in range(kernel.shape[0]))


def gaussian_blur(images: jax.Array, sigma: float) -> jax.Array:
  """Separable Gaussian blur of std ``sigma`` pixels over H and W of [B, H, W, C].

  Borders are extended by half-sample symmetric reflection (scipy's
  ``mode="reflect"``); with a symmetric kernel no wider than the image this
  preserves each image's channel means exactly. ``sigma = 0`` is the
  identity.
  """
  if sigma == 0:
    return images
  kernel = gaussian_kernel(sigma)
  if (kernel.shape[0] - 1) // 2 >= min(images.shape[1:3]):
    raise ValueError(f"blur sigma {sigma} is too wide for images of shape {images.shape}.")
  return _blur_axis(_blur_axis(images, kernel, 1), kernel, 2)


def _zero_below(images: jax.Array, score: jax.Array, percentile: float) -> jax.Array:
  """Zeros the pixels of each image whose ``score`` [B, H, W] is below its percentile."""
  threshold = jnp.percentile(score.reshape(score.shape[0], -1), percentile, axis=1)
  keep = score >= threshold[:, None, None]
  return jnp.where(keep[..., None], images, jnp.zeros_like(images))


def clip_small_norm(images: jax.Array, percentile: float,
                    channel_scale: jax.typing.ArrayLike = 1.0) -> jax.Array:
  """Zeros the pixels whose norm over the channels is below the ``percentile``.

  Args:
    images: [B, H, W, C].
    percentile: in [0, 100]; 0 clips nothing.
    channel_scale: per-channel factors [C] applied before the norm, to
      measure it in other units (the presets measure it in Caffe's 0-255
      pixels: ``1 / meta.pixel_budget(1, 255)``).
  """
  if percentile == 0:
    return images
  norms = jnp.sqrt(jnp.sum(jnp.square(images * jnp.asarray(channel_scale)), axis=-1))
  return _zero_below(images, norms, percentile)


def clip_small_contribution(images: jax.Array, grads: jax.Array,
                            percentile: float) -> jax.Array:
  """Zeros the pixels whose estimated contribution ``|sum_c x_c dS/dx_c|`` is below the percentile.

  The estimate is unit-free: rescaling a channel scales ``x`` and divides the
  gradient by the same factor.

  Args:
    images: [B, H, W, C].
    grads: the objective's gradient with respect to ``images``, [B, H, W, C].
    percentile: in [0, 100]; 0 clips nothing.
  """
  if percentile == 0:
    return images
  return _zero_below(images, jnp.abs(jnp.sum(images * grads, axis=-1)), percentile)
