"""Image parameterizations: what the ascent loop optimises, and how it becomes an image.

A parameterization maps free parameters to a batch of images in a model's
input space and valid range. Feature visualization (Olah et al. 2017,
https://distill.pub/2017/feature-visualization/, "Preconditioning and
Parameterization") shows that the choice of parameters changes the result of
steepest ascent as much as any regularizer: the gradient is steepest with
respect to the metric of the parameters, and a decorrelated Fourier basis
makes it prefer the statistics of natural images.

API (stable; the style-transfer loop uses it too). Every parameterization is
a frozen, hashable dataclass (usable as a static argument of ``jax.jit``)
with:

* ``shape``: ``(B, H, W, C)`` of the rendered batch (a leading image axis:
  one image per class, channel, style, restart, ...);
* ``init(key) -> params``: random initial parameters from an explicit PRNG
  key (the same key gives the same parameters);
* ``render(params) -> images [B, H, W, C]``: float32 images in the model's
  input space, inside the per-channel box ``[low, high]``; pure, jittable
  and differentiable;
* ``project(params) -> params``: what the loop applies after every update
  (the clip of projected gradient ascent for ``squash="clip"``, the
  identity otherwise);
* ``encode(images) -> params``: parameters whose rendering is ``images``
  (values are clipped a hair inside the box first, so that the sigmoid can be
  inverted), e.g. to start from a photo.

Build them from a model's :class:`~jaxviz.models.meta.ModelMeta` with
:func:`pixel` and :func:`fourier` (the box is ``meta.input_bounds``: MobileNet
``[-1, 1]``, VGG the normalised images of pixels 0 and 255 per channel, the
small CNN ``[0, 1]``), or directly with explicit ``low``/``high``.

Parameterizations:

* :class:`PixelParameterization` with ``squash="clip"``: the parameters are
  the image itself, kept in the box by ``project`` (Simonyan et al. 2013,
  https://arxiv.org/abs/1312.6034 ; Yosinski et al. 2015,
  https://arxiv.org/abs/1506.06579 : their image-space regularizers act on
  it directly);
* :class:`PixelParameterization` with ``squash="sigmoid"``: a latent image
  per pixel, optionally colour-decorrelated, squashed into the box by a
  sigmoid (Lucid's naive pixel parameterization);
* :class:`FourierParameterization`: Lucid's decorrelated Fourier
  parameterization. The latent is the 2-D real FFT spectrum of each channel
  (``params`` float32 ``[B, H, W // 2 + 1, C, 2]``: real and imaginary
  parts), scaled by ``1 / max(f, 1 / max(H, W)) ** decay_power`` with ``f``
  the frequency in cycles per pixel (a 1/f spectrum like natural images for
  ``decay_power=1``), inverse-transformed (orthonormal ``irfft2``), mapped
  to RGB with the colour square root of :mod:`jaxviz.synthesis.colour` and
  squashed by a sigmoid. The frequency scale is divided by its root mean
  square over the spectrum, so that a coefficient std of ``init_scale``
  gives latent pixels of about that std (Lucid divides by a constant 4
  instead, which at 128 px is a root mean square of 1.46).

Sigmoid to the box: ``x = low + (high - low) * sigmoid(t)`` per channel,
i.e. the pixel ``sigmoid(t)`` in [0, 1] preprocessed by the model's
``(p - mean) / std`` (the two are the same affine map), so ``t = 0`` is
mid-grey for every model.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.synthesis import colour

__all__ = ("FourierParameterization", "PARAMETERIZATIONS", "PixelParameterization", "SQUASHES",
           "fourier", "frequency_scale", "make", "pixel")

PARAMETERIZATIONS = ("pixel", "fourier")
SQUASHES = ("sigmoid", "clip")
# encode() keeps images this far (as a fraction of the box) inside the box.
_ENCODE_MARGIN = 1e-4


def _check_shape(shape) -> tuple[int, int, int, int]:
  if not isinstance(shape, (tuple, list)) or len(shape) != 4:
    raise ValueError(f"shape must be (B, H, W, C), got {shape!r}.")
  return tuple(validation.check_positive_int(s, f"shape[{i}]") for i, s in enumerate(shape))


def _check_bounds(low, high, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
  low = np.broadcast_to(np.asarray(low, np.float64), (channels,))
  high = np.broadcast_to(np.asarray(high, np.float64), (channels,))
  if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
    raise ValueError(f"The valid input box needs finite low < high per channel, got low "
                     f"{low.tolist()}, high {high.tolist()}.")
  return tuple(float(v) for v in low), tuple(float(v) for v in high)


class _Box:
  """The per-channel box shared by the parameterizations (arrays [C])."""

  low: tuple[float, ...]
  high: tuple[float, ...]

  def _check_box(self) -> None:
    """Normalises ``shape``, ``low`` and ``high`` in place (the dataclasses are frozen)."""
    shape = _check_shape(self.shape)
    low, high = _check_bounds(self.low, self.high, shape[3])
    if self.decorrelate:
      colour.decorrelation_matrix(shape[3])
    object.__setattr__(self, "shape", shape)
    object.__setattr__(self, "low", low)
    object.__setattr__(self, "high", high)
    object.__setattr__(self, "init_scale",
                       validation.check_non_negative(self.init_scale, "init_scale"))

  def _low_high(self) -> tuple[jax.Array, jax.Array]:
    return jnp.asarray(self.low, jnp.float32), jnp.asarray(self.high, jnp.float32)

  def _squash(self, latent: jax.Array) -> jax.Array:
    low, high = self._low_high()
    return low + (high - low) * jax.nn.sigmoid(latent)

  def _unsquash(self, images: jax.typing.ArrayLike) -> jax.Array:
    low, high = self._low_high()
    unit = (jnp.asarray(images, jnp.float32) - low) / (high - low)
    unit = jnp.clip(unit, _ENCODE_MARGIN, 1.0 - _ENCODE_MARGIN)
    return jnp.log(unit) - jnp.log1p(-unit)

  def _check_images(self, images, shape) -> None:
    validation.check_images(images, channels=shape[3], spatial=shape[1:3])
    if images.shape[0] != shape[0]:
      raise ValueError(f"encode: expected {shape[0]} images, got shape {tuple(images.shape)}.")


def _colour_forward(latent: jax.Array, decorrelate: bool) -> jax.Array:
  if not decorrelate:
    return latent
  matrix = jnp.asarray(colour.decorrelation_matrix(latent.shape[-1]))
  return latent @ matrix.T


def _colour_inverse(values: jax.Array, decorrelate: bool) -> jax.Array:
  if not decorrelate:
    return values
  inverse = jnp.asarray(np.linalg.inv(colour.decorrelation_matrix(values.shape[-1])))
  return values @ inverse.T


@dataclasses.dataclass(frozen=True)
class PixelParameterization(_Box):
  """One parameter per pixel and channel. ``params``: float32 [B, H, W, C].

  Attributes:
    shape: ``(B, H, W, C)`` of the rendered batch.
    low: per-channel lower bounds of the valid input box (length C).
    high: per-channel upper bounds.
    squash: ``"clip"``: the parameters are the image in input space,
      ``project`` clips them to the box (the Simonyan/Yosinski loop);
      ``"sigmoid"``: a latent squashed into the box by a sigmoid (Lucid).
    decorrelate: map the latent channels to RGB with the colour square root
      (``"sigmoid"`` only).
    init_scale: std of the random initialisation: of the latent for
      ``"sigmoid"``; for ``"clip"`` as a fraction of the box width, around
      the zero image (the normalisation mean, Simonyan's start) clipped into
      the box. 0 starts from exactly that image.
  """

  shape: tuple[int, int, int, int]
  low: tuple[float, ...]
  high: tuple[float, ...]
  squash: str = "sigmoid"
  decorrelate: bool = False
  init_scale: float = 0.01

  def __post_init__(self):
    if self.squash not in SQUASHES:
      raise ValueError(f"Unknown squash {self.squash!r}; expected one of {SQUASHES}.")
    if self.decorrelate and self.squash == "clip":
      raise ValueError("decorrelate needs squash='sigmoid' (the clip parameterization is the "
                       "image itself).")
    self._check_box()

  def init(self, key: jax.Array) -> jax.Array:
    """Random parameters [B, H, W, C] from ``key``."""
    validation.check_key(key)
    noise = jax.random.normal(key, self.shape, jnp.float32)
    if self.squash == "sigmoid":
      return self.init_scale * noise
    low, high = self._low_high()
    return self.project(jnp.clip(0.0, low, high) + self.init_scale * (high - low) * noise)

  def render(self, params: jax.Array) -> jax.Array:
    """Images [B, H, W, C] in the model's input space."""
    if self.squash == "clip":
      return params
    return self._squash(_colour_forward(params, self.decorrelate))

  def project(self, params: jax.Array) -> jax.Array:
    """Clips the image to the box (``"clip"``); the identity for ``"sigmoid"``."""
    if self.squash == "sigmoid":
      return params
    low, high = self._low_high()
    return jnp.clip(params, low, high)

  def encode(self, images: jax.typing.ArrayLike) -> jax.Array:
    """Parameters [B, H, W, C] that render ``images`` [B, H, W, C]."""
    self._check_images(images, self.shape)
    if self.squash == "clip":
      return self.project(jnp.asarray(images, jnp.float32))
    return _colour_inverse(self._unsquash(images), self.decorrelate)


def frequency_scale(height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
  """The Fourier parameterization's spectrum scale [H, W // 2 + 1], unit root mean square.

  ``1 / max(f, 1 / max(H, W)) ** decay_power`` with ``f = sqrt(fy^2 + fx^2)``
  the frequency of each ``rfft2`` coefficient in cycles per pixel (the floor
  keeps the DC term finite), divided by its root mean square.
  """
  fy = np.fft.fftfreq(height)[:, None]
  fx = np.fft.rfftfreq(width)[None, :]
  freq = np.maximum(np.sqrt(fx ** 2 + fy ** 2), 1.0 / max(height, width))
  scale = freq ** -float(decay_power)
  return (scale / np.sqrt(np.mean(scale ** 2))).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class FourierParameterization(_Box):
  """Lucid's decorrelated Fourier parameterization (see the module docstring).

  ``params``: float32 [B, H, W // 2 + 1, C, 2], the real and imaginary parts
  of each channel's scaled ``rfft2`` spectrum.

  Attributes:
    shape: ``(B, H, W, C)`` of the rendered batch.
    low: per-channel lower bounds of the valid input box (length C).
    high: per-channel upper bounds.
    decay_power: exponent of the ``1/f`` spectrum scale (0: white).
    init_scale: std of the random initial coefficients.
    decorrelate: map the latent channels to RGB with the colour square root.
  """

  shape: tuple[int, int, int, int]
  low: tuple[float, ...]
  high: tuple[float, ...]
  decay_power: float = 1.0
  init_scale: float = 0.01
  decorrelate: bool = True

  def __post_init__(self):
    self._check_box()
    object.__setattr__(self, "decay_power",
                       validation.check_non_negative(self.decay_power, "decay_power"))

  @property
  def params_shape(self) -> tuple[int, ...]:
    batch, height, width, channels = self.shape
    return (batch, height, width // 2 + 1, channels, 2)

  def _scale(self) -> jax.Array:
    _, height, width, _ = self.shape
    return jnp.asarray(frequency_scale(height, width, self.decay_power))[None, :, :, None]

  def init(self, key: jax.Array) -> jax.Array:
    """Random coefficients [B, H, W // 2 + 1, C, 2] from ``key``."""
    validation.check_key(key)
    return self.init_scale * jax.random.normal(key, self.params_shape, jnp.float32)

  def render(self, params: jax.Array) -> jax.Array:
    """Images [B, H, W, C] in the model's input space."""
    _, height, width, _ = self.shape
    spectrum = jax.lax.complex(params[..., 0], params[..., 1]) * self._scale()
    latent = jnp.fft.irfft2(spectrum, s=(height, width), axes=(1, 2), norm="ortho")
    return self._squash(_colour_forward(latent.astype(jnp.float32), self.decorrelate))

  def project(self, params: jax.Array) -> jax.Array:
    """The identity (the sigmoid keeps every rendering in the box)."""
    return params

  def encode(self, images: jax.typing.ArrayLike) -> jax.Array:
    """Coefficients [B, H, W // 2 + 1, C, 2] that render ``images`` [B, H, W, C]."""
    self._check_images(images, self.shape)
    latent = _colour_inverse(self._unsquash(images), self.decorrelate)
    spectrum = jnp.fft.rfft2(latent, axes=(1, 2), norm="ortho") / self._scale()
    return jnp.stack([spectrum.real, spectrum.imag], axis=-1).astype(jnp.float32)


def _shape_for(meta, batch: int, size: int | Sequence[int] | None) -> tuple[int, int, int, int]:
  height, width, channels = meta.input_shape
  if size is not None:
    height, width = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
  return _check_shape((batch, height, width, channels))


def _in_box(cls, meta, batch: int, size, **options):
  """``cls`` for ``batch`` images of ``size`` in the box of ``meta.input_bounds``."""
  return cls(_shape_for(meta, batch, size), *meta.input_bounds, **options)


def pixel(meta, batch: int, *, size: int | Sequence[int] | None = None,
          squash: str = "sigmoid", decorrelate: bool = False,
          init_scale: float = 0.01) -> PixelParameterization:
  """A :class:`PixelParameterization` in the box of ``meta.input_bounds``.

  Args:
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta`.
    batch: number of images B.
    size: ``H`` (square) or ``(H, W)``; default ``meta.input_shape[:2]``.
    squash, decorrelate, init_scale: see :class:`PixelParameterization`.
  """
  return _in_box(PixelParameterization, meta, batch, size, squash=squash,
                 decorrelate=decorrelate, init_scale=init_scale)


def fourier(meta, batch: int, *, size: int | Sequence[int] | None = None,
            decay_power: float = 1.0, init_scale: float = 0.01,
            decorrelate: bool = True) -> FourierParameterization:
  """A :class:`FourierParameterization` in the box of ``meta.input_bounds``.

  Args:
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta`.
    batch: number of images B.
    size: ``H`` (square) or ``(H, W)``; default ``meta.input_shape[:2]``.
    decay_power, init_scale, decorrelate: see :class:`FourierParameterization`.
  """
  return _in_box(FourierParameterization, meta, batch, size, decay_power=decay_power,
                 init_scale=init_scale, decorrelate=decorrelate)


def make(name: str, meta, batch: int, **options):
  """``pixel(meta, batch, **options)`` or ``fourier(...)`` by name.

  Raises:
    ValueError: ``name`` is not one of :data:`PARAMETERIZATIONS`.
  """
  if name not in PARAMETERIZATIONS:
    raise ValueError(f"Unknown parameterization {name!r}; expected one of {PARAMETERIZATIONS}.")
  return (pixel if name == "pixel" else fourier)(meta, batch, **options)
