"""Random transformations of the rendered image inside the objective (robustness).

An image that only works pixel-perfectly is an adversarial pattern; one that
still drives the unit after small random shifts, zooms and rotations has to
contain the feature at every position and scale. Feature visualization
(Olah et al. 2017, https://distill.pub/2017/feature-visualization/,
"Transformation robustness") therefore applies random transformations to
the image before the model sees it, at every step; DeepDream's jitter
(Mordvintsev et al. 2015) is the translation part.

The transformations act on the rendered images inside the objective, never
on the parameters: the gradient flows back through them to the untransformed
image, so every step's jitter is undone before the next one (the parameters
are never shifted), as DeepDream's roll, step, roll back.

Pipeline, per image with its own random draw (``[B, H, W, C]`` ->
``[B, H + 2 pad, W + 2 pad, C]``):

1. ``pad``: a constant border of ``pad`` pixels, of value ``pad_value``
   (a pixel in [0, 1], mapped into the model's box: 0.5 is mid-grey);
2. ``jitter``: a random integer translation by ``-jitter .. jitter`` pixels
   per axis (a cyclic roll; with a pad at least as wide, only the border
   wraps);
3. ``scales`` and ``angles``: one random zoom and rotation (degrees) about
   the centre, drawn uniformly from the given choices, with bilinear
   interpolation; pixels from outside get ``pad_value``;
4. ``final_jitter``: a second, smaller translation (after the resampling, so
   that the interpolation grid is not always aligned).

Lucid's standard transforms (``pad(12)``, ``jitter(8)``, ``random_scale(1 +
(i - 5) / 50, i = 0..10)``, ``random_rotate(-10..10 and five more 0)``,
``jitter(4)``) are :func:`lucid`; Lucid's ``jitter(d)`` is a random crop with
``d + 1`` offsets, here a translation of ``+- d // 2``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation

__all__ = ("Transforms", "affine", "bilinear", "lucid", "pad", "roll")


def _check_choices(values, name: str, positive: bool) -> tuple[float, ...]:
  if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
    raise ValueError(f"{name} must be a sequence of numbers, got {values!r}.")
  values = tuple(values)
  for v in values:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(v) \
        or (positive and v <= 0):
      raise ValueError(f"{name} must hold finite numbers{' > 0' if positive else ''}, "
                       f"got {values!r}.")
  return tuple(float(v) for v in values)


@dataclasses.dataclass(frozen=True)
class Transforms:
  """Random transformations applied to the rendered images (module docstring).

  All default to off; ``Transforms()`` is the identity.

  Attributes:
    pad: border width in pixels.
    pad_value: the border's pixel value in [0, 1] (mapped into the box).
    jitter: largest translation in pixels before the resampling.
    scales: zoom factors to choose from (empty: no zoom).
    angles: rotation angles in degrees to choose from (empty: no rotation).
    final_jitter: largest translation in pixels after the resampling.
  """

  pad: int = 0
  pad_value: float = 0.5
  jitter: int = 0
  scales: tuple[float, ...] = ()
  angles: tuple[float, ...] = ()
  final_jitter: int = 0

  def __post_init__(self):
    for name in ("pad", "jitter", "final_jitter"):
      object.__setattr__(self, name, validation.check_non_negative_int(getattr(self, name), name))
    object.__setattr__(self, "pad_value",
                       validation.check_in_range(self.pad_value, "pad_value", 0.0, 1.0))
    object.__setattr__(self, "scales", _check_choices(self.scales, "scales", positive=True))
    object.__setattr__(self, "angles", _check_choices(self.angles, "angles", positive=False))

  @property
  def is_identity(self) -> bool:
    return not (self.pad or self.jitter or self.scales or self.angles or self.final_jitter)

  def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The transformed batch's shape for images of ``shape`` [B, H, W, C]."""
    batch, height, width, channels = shape
    return (batch, height + 2 * self.pad, width + 2 * self.pad, channels)

  def __call__(self, key: jax.Array, images: jax.Array, low: jax.typing.ArrayLike,
               high: jax.typing.ArrayLike) -> jax.Array:
    """Transforms every image with its own draw from ``key``.

    Args:
      key: a PRNG key (one per step).
      images: [B, H, W, C] in the model's input space.
      low, high: the box per channel [C] (for the border value).

    Returns:
      [B, H + 2 pad, W + 2 pad, C].
    """
    if self.is_identity:
      return images
    fill = jnp.asarray(low) + self.pad_value * (jnp.asarray(high) - jnp.asarray(low))
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(lambda k, im: self._one(k, im, fill))(keys, images)

  def _one(self, key: jax.Array, image: jax.Array, fill: jax.Array) -> jax.Array:
    k_shift, k_scale, k_angle, k_final = jax.random.split(key, 4)
    image = pad(image, self.pad, fill)
    image = roll(image, _shift(k_shift, self.jitter))
    if self.scales or self.angles:
      scale = _choice(k_scale, self.scales, 1.0)
      angle = _choice(k_angle, self.angles, 0.0)
      image = affine(image, scale, angle, fill)
    return roll(image, _shift(k_final, self.final_jitter))


def _shift(key: jax.Array, largest: int) -> jax.Array:
  if not largest:
    return jnp.zeros((2,), jnp.int32)
  return jax.random.randint(key, (2,), -largest, largest + 1)


def _choice(key: jax.Array, choices: tuple[float, ...], default: float) -> jax.Array:
  if not choices:
    return jnp.asarray(default, jnp.float32)
  return jnp.asarray(choices, jnp.float32)[jax.random.randint(key, (), 0, len(choices))]


def pad(image: jax.Array, width: int, fill: jax.Array) -> jax.Array:
  """A constant border of ``width`` pixels around ``image`` [H, W, C], value ``fill`` [C]."""
  if not width:
    return image
  height, cols, channels = image.shape
  canvas = jnp.broadcast_to(fill.astype(image.dtype), (height + 2 * width, cols + 2 * width,
                                                       channels))
  return canvas.at[width:width + height, width:width + cols].set(image)


def roll(image: jax.Array, shift: jax.Array) -> jax.Array:
  """``image`` [H, W, C] shifted cyclically by ``shift`` = (rows, columns) pixels."""
  return jnp.roll(image, (shift[0], shift[1]), axis=(0, 1))


def affine(image: jax.Array, scale: jax.typing.ArrayLike, angle_degrees: jax.typing.ArrayLike,
           fill: jax.Array) -> jax.Array:
  """Zooms ``image`` [H, W, C] by ``scale`` and rotates it by ``angle_degrees`` about its centre.

  Positive angles turn the picture counter-clockwise as displayed (rows
  down): 90 degrees is ``np.rot90``. Output pixel ``p`` takes the bilinear
  interpolation of the input at the inverse map of ``p`` (about the centre);
  samples outside the image get ``fill`` [C]. ``scale = 1, angle = 0``
  returns ``image`` exactly.
  """
  height, width, _ = image.shape
  rows, cols = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                            jnp.arange(width, dtype=jnp.float32), indexing="ij")
  cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
  theta = jnp.deg2rad(jnp.asarray(angle_degrees, jnp.float32))
  cos, sin = jnp.cos(theta), jnp.sin(theta)
  dy, dx = (rows - cy) / scale, (cols - cx) / scale
  src_y = cy + cos * dy + sin * dx
  src_x = cx - sin * dy + cos * dx

  return bilinear(image, src_y, src_x, fill)


def bilinear(image: jax.Array, rows: jax.Array, cols: jax.Array, fill: jax.Array) -> jax.Array:
  """``image`` [H, W, C] sampled at fractional ``rows``, ``cols`` [h, w]; ``fill`` [C] outside.

  Each of the four neighbours of a sample point that lies outside the image
  contributes ``fill`` (the image continued by a constant border): the image
  gets a one-pixel border of ``fill`` and neighbour indices are clamped into
  it, so all four neighbours come from one gather.
  """
  height, width, channels = image.shape
  framed = pad(image, 1, fill).reshape(-1, channels)
  top, left = jnp.floor(rows), jnp.floor(cols)
  fy, fx = rows - top, cols - left
  top, left = top.astype(jnp.int32) + 1, left.astype(jnp.int32) + 1  # framed coordinates
  r = jnp.clip(jnp.stack([top, top, top + 1, top + 1]), 0, height + 1)
  c = jnp.clip(jnp.stack([left, left + 1, left, left + 1]), 0, width + 1)
  weights = jnp.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
  values = framed[r * (width + 2) + c]  # [4, h, w, C]
  return jnp.sum(weights[..., None] * values, axis=0)


def lucid() -> Transforms:
  """Lucid's standard transforms (see the module docstring)."""
  return Transforms(pad=12, pad_value=0.5, jitter=4,
                    scales=tuple(1 + (i - 5) / 50 for i in range(11)),
                    angles=tuple(range(-10, 11)) + (0,) * 5, final_jitter=2)
