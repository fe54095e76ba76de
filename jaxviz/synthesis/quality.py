"""Numbers that say how good a synthesized image is.

A picture alone does not tell a recognisable class image from an
adversarial pattern, or a strong feature visualization from a weak one.
These measures do (the issue's targets are stated in them):

* :func:`class_probabilities`: the target's softmax probability under the
  optimised model and whether it is the argmax;
* :func:`transfer_probabilities`: the target's probability under another
  network that was *not* optimised (e.g. MobileNetV1 0.25 for MobileNetV2
  images): adversarial patterns do not transfer, recognisable images do
  more often;
* :func:`unit_activations` and :func:`best_photo_activations`: the
  objective a synthesized image reaches, and the highest value any real
  photo reaches for the same unit; their ratio (>= 1: the image drives the
  unit at least as hard as the best photo);
* :func:`high_frequency_energy`: the fraction of each image's spectral
  energy (mean removed per channel) at radial frequencies above half the
  Nyquist frequency (0.25 cycles per pixel): high-frequency noise.

All take images in the model's input space ``[B, H, W, C]``.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.models import taps
from jaxviz.synthesis import objectives as objectives_lib

__all__ = (
    "HALF_NYQUIST",
    "best_photo_activations",
    "class_probabilities",
    "high_frequency_energy",
    "resize_for",
    "transfer_probabilities",
    "unit_activations",
)

HALF_NYQUIST = 0.25  # cycles per pixel


@functools.partial(jax.jit, static_argnames=("fn",))
def _probabilities(fn, consts, images, targets):
  probs = jax.nn.softmax(fn(consts, images), axis=-1)
  picked = jnp.take_along_axis(probs, targets[:, None], axis=1)[:, 0]
  return picked, jnp.argmax(probs, axis=-1) == targets


def class_probabilities(f: Callable[[jax.Array], jax.Array], images: jax.typing.ArrayLike,
                        targets) -> tuple[np.ndarray, np.ndarray]:
  """Softmax probability of each image's target logit, and whether it is the argmax.

  Args:
    f: model function ``logits [B, K] = f(x)`` (reuse the object: it keys
      the compilation cache).
    images: [B, H, W, C] in the model's input space.
    targets: int logit indices [B] (``meta.logit_index(classes)``).

  Returns:
    ``(probability [B] float32, is_argmax [B] bool)`` as numpy arrays.
  """
  validation.check_images(images)
  if np.ndim(targets) != 1:
    raise ValueError(f"targets must be [B] (one per image), got shape {np.shape(targets)}.")
  prep, targets, _ = gradients.prepare_targets(f, images, targets)
  picked, is_max = _probabilities(prep.fn, prep.consts, jnp.asarray(images), targets[:, 0])
  return np.asarray(picked), np.asarray(is_max)


def resize_for(images: jax.typing.ArrayLike, meta, other_meta) -> jax.Array:
  """Images in ``meta``'s input space as ``other_meta``'s inputs (its size and normalisation).

  Maps to pixels in [0, 1] with ``meta``'s mean/std, resizes bilinearly
  (antialiased when shrinking) to ``other_meta.input_shape[:2]``, and
  normalises with ``other_meta``'s mean/std.
  """
  images = jnp.asarray(images, jnp.float32)
  pixels = images * jnp.asarray(meta.std) + jnp.asarray(meta.mean)
  height, width, channels = other_meta.input_shape
  if channels != images.shape[-1]:
    raise ValueError(f"{other_meta.name} takes {channels} channels, the images have "
                     f"{images.shape[-1]}.")
  pixels = jax.image.resize(pixels, (images.shape[0], height, width, channels), "linear")
  return (pixels - jnp.asarray(other_meta.mean)) / jnp.asarray(other_meta.std)


def transfer_probabilities(other_f: Callable[[jax.Array], jax.Array], other_meta,
                           images: jax.typing.ArrayLike, meta, classes) -> np.ndarray:
  """The probability of each image's dataset class under another network.

  Args:
    other_f: the other model's function (e.g. MobileNetV1 0.25).
    other_meta: its :class:`~jaxviz.models.meta.ModelMeta` (size, range,
      label offset).
    images: [B, H, W, C] in ``meta``'s input space.
    meta: the meta of the network the images were optimised for.
    classes: int dataset class indices [B] (not logit indices: each model's
      own ``label_offset`` is added).

  Returns:
    float32 [B].
  """
  validation.check_images(images)
  resized = resize_for(images, meta, other_meta)
  return class_probabilities(other_f, resized, other_meta.logit_index(np.asarray(classes)))[0]


@functools.partial(jax.jit, static_argnames=("fn", "objective"))
def _unit_values(fn, consts, images, targets, objective):
  logits, activation = fn(consts, images, None)
  return jax.vmap(objective)(logits, activation, targets)


def unit_activations(fn: taps.LayerFn, objective: objectives_lib.Objective,
                     images: jax.typing.ArrayLike, targets) -> np.ndarray:
  """The objective of each image for its own target (no transforms): float32 [B]."""
  validation.check_images(images)
  prep = gradients.prepare(fn, "gradient", images, None)
  return np.asarray(_unit_values(prep.fn, prep.consts, jnp.asarray(images),
                                 jnp.asarray(np.asarray(targets), jnp.int32), objective))


def best_photo_activations(fn: taps.LayerFn, objective: objectives_lib.Objective,
                           photos: jax.typing.ArrayLike, targets
                           ) -> tuple[np.ndarray, np.ndarray]:
  """The highest objective over real photos, per target unit.

  Args:
    fn: the layer function the images were optimised through.
    objective: the same objective.
    photos: [N, H, W, C] real photos in the model's input space (at the
      synthesized images' size, so that both see the same spatial extent).
    targets: int [B] channels (or classes).

  Returns:
    ``(best [B] float32, photo index [B] int)``.
  """
  validation.check_images(photos)
  prep = gradients.prepare(fn, "gradient", photos, None)
  values = np.asarray(_every_target(prep.fn, prep.consts, jnp.asarray(photos),
                                    jnp.asarray(np.asarray(targets), jnp.int32), objective))
  return values.max(axis=0), values.argmax(axis=0)


@functools.partial(jax.jit, static_argnames=("fn", "objective"))
def _every_target(fn, consts, photos, targets, objective):
  """The objective of every photo for every target: [N, B]."""
  logits, activation = fn(consts, photos, None)
  per_photo = lambda l, a: jax.vmap(lambda t: objective(l, a, t))(targets)
  return jax.vmap(per_photo)(logits, activation)


def high_frequency_energy(images: jax.typing.ArrayLike, cutoff: float = HALF_NYQUIST
                          ) -> np.ndarray:
  """Fraction of each image's spectral energy above ``cutoff`` cycles per pixel.

  The energy is ``|fft2|^2`` of every channel with its mean removed (the DC
  term carries none), summed over the channels; the frequency of a
  coefficient is its radius ``sqrt(fy^2 + fx^2)``.

  Args:
    images: [B, H, W, C].
    cutoff: in cycles per pixel; default half the Nyquist frequency.

  Returns:
    float32 [B] in [0, 1] (0 for a constant image).
  """
  validation.check_images(images)
  x = np.asarray(images, np.float64)
  x = x - x.mean(axis=(1, 2), keepdims=True)
  power = np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2
  fy = np.fft.fftfreq(x.shape[1])[:, None]
  fx = np.fft.fftfreq(x.shape[2])[None, :]
  high = (np.sqrt(fy ** 2 + fx ** 2) > cutoff)[None, :, :, None]
  total = power.sum(axis=(1, 2, 3))
  return np.where(total > 0, (power * high).sum(axis=(1, 2, 3)) / np.maximum(total, 1e-300),
                  0.0).astype(np.float32)
