"""Resizing and per-model preprocessing of numpy image batches (PIL and numpy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import PIL.Image

from jaxviz import validation

__all__ = ("convert_channels", "Images", "LUMA_WEIGHTS", "prepare_for_model", "resize")

if TYPE_CHECKING:  # Importing jaxviz.models would pull in Flax; only the type is needed.
  from jaxviz.models import meta as meta_lib

# ITU-R 601-2 luma weights, as PIL's RGB -> "L" conversion.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

Images = np.ndarray | Sequence[np.ndarray]


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
  """Converts gray <-> RGB along the last axis.

  Args:
    images: [..., C] with C in {1, 3}, uint8 or float.
    channels: 1 (RGB -> gray with ITU-R 601-2 luma) or 3 (gray replicated).

  Returns:
    [..., channels]; uint8 in -> uint8 out (rounded luma), float in -> float32.
  """
  images = np.asarray(images)
  if channels not in (1, 3):
    raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
  if images.ndim < 1 or images.shape[-1] not in (1, 3):
    raise ValueError(f"images must end in a channel axis of size 1 or 3, got shape {images.shape}.")
  if images.shape[-1] == channels:
    return images if images.dtype == np.uint8 else images.astype(np.float32)
  if channels == 3:
    out = np.repeat(images, 3, axis=-1)
    return out if out.dtype == np.uint8 else out.astype(np.float32)
  luma = (images.astype(np.float32) @ np.asarray(LUMA_WEIGHTS, np.float32))[..., None]
  return np.round(luma).astype(np.uint8) if images.dtype == np.uint8 else luma


def _check_images(images: Images, what: str) -> list[np.ndarray] | np.ndarray:
  """Returns a rank-4 array or a list of rank-3 arrays with one shared C and dtype kind."""
  if isinstance(images, np.ndarray):
    if images.ndim != 4:
      raise ValueError(f"{what}: images must be [B, H, W, C] or a list of [H, W, C] arrays, "
                       f"got an array of shape {images.shape}"
                       + (" (add a batch axis: images[None])." if images.ndim == 3 else "."))
    items = [images]
  elif isinstance(images, (list, tuple)):
    if not images:
      raise ValueError(f"{what}: got an empty list of images.")
    items = [np.asarray(im) for im in images]
    bad = [i for i, im in enumerate(items) if im.ndim != 3]
    if bad:
      raise ValueError(f"{what}: list items must be [H, W, C] arrays; item {bad[0]} has shape "
                       f"{items[bad[0]].shape}.")
    images = items
  else:
    raise ValueError(f"{what}: images must be a numpy array or a list of arrays, "
                     f"got {type(images).__name__}.")
  dtypes = {im.dtype for im in items}
  if not all(d == np.uint8 or np.issubdtype(d, np.floating) for d in dtypes):
    raise ValueError(f"{what}: images must be uint8 or float, got dtype(s) "
                     f"{sorted(map(str, dtypes))}.")
  if len({d == np.uint8 for d in dtypes}) > 1:
    raise ValueError(f"{what}: images mix uint8 and float dtypes {sorted(map(str, dtypes))}.")
  channel_counts = {im.shape[-1] for im in items}
  if len(channel_counts) > 1:
    raise ValueError(f"{what}: images have different channel counts {sorted(channel_counts)}.")
  return images


def _check_size(size) -> tuple[int, int]:
  message = f"size must be a pair of positive ints (H, W), got {size!r}."
  if not isinstance(size, (tuple, list)) or len(size) != 2:
    raise ValueError(message)
  try:
    return tuple(validation.check_positive_int(s, "size") for s in size)
  except ValueError:
    raise ValueError(message) from None


def _resize_one(image: np.ndarray, size: tuple[int, int], central_crop: float) -> np.ndarray:
  """[H, W, C] -> float32 [size[0], size[1], C], each channel as a PIL "F" image."""
  h, w = image.shape[:2]
  top, left = int((h - h * central_crop) / 2), int((w - w * central_crop) / 2)
  image = image[top:h - top, left:w - left].astype(np.float32)
  if image.shape[:2] == size:
    return image
  channels = [
      np.asarray(PIL.Image.fromarray(image[..., k]).resize(
          (size[1], size[0]), PIL.Image.Resampling.BILINEAR))
      for k in range(image.shape[-1])
  ]
  return np.stack(channels, axis=-1)


def resize(images: Images, size: tuple[int, int], *, central_crop: float = 1.0) -> np.ndarray:
  """Crops the centre and resizes with PIL bilinear (antialiased when shrinking).

  PIL widens the bilinear kernel by the shrink factor, so downscaling averages
  every input pixel instead of aliasing (as ``antialias=True`` elsewhere).

  Args:
    images: uint8 or float [B, H, W, C], or a list of [H_i, W_i, C] arrays of
      different sizes.
    size: output ``(H, W)``.
    central_crop: fraction in (0, 1] of each side kept around the centre
      before resizing (as ``tf.image.central_crop``; 0.875 for Inception-style
      evaluation).

  Returns:
    [B, H, W, C]: uint8 (rounded, clipped) for uint8 input, float32 otherwise.
  """
  images = _check_images(images, "resize")
  size = _check_size(size)
  if not isinstance(central_crop, (int, float)) or not 0.0 < central_crop <= 1.0:
    raise ValueError(f"central_crop must be in (0, 1], got {central_crop!r}.")
  is_uint8 = images[0].dtype == np.uint8
  out = np.stack([_resize_one(im, size, float(central_crop)) for im in images])
  return np.clip(np.round(out), 0, 255).astype(np.uint8) if is_uint8 else out


def prepare_for_model(images: Images, meta: meta_lib.ModelMeta, *,
                      central_crop: float = 1.0) -> np.ndarray:
  """Turns uint8 pixels into a model's input batch.

  Resizes to ``meta.input_shape[:2]`` (see :func:`resize`), converts gray <->
  RGB to ``meta.input_shape[2]`` channels, then applies ``meta.preprocess``
  (``(pixels / 255 - mean) / std``).

  Args:
    images: uint8 [B, H, W, C] or a list of uint8 [H_i, W_i, C], C in {1, 3}.
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta`.
    central_crop: fraction of each side kept before resizing.

  Returns:
    float32 [B, H, W, C] in ``meta.input_range``.
  """
  images = _check_images(images, "prepare_for_model")
  if images[0].dtype != np.uint8:
    raise ValueError("prepare_for_model: images must be uint8 pixels in [0, 255], got "
                     f"{images[0].dtype}; convert with (x * 255).round().astype(np.uint8) if "
                     "they are floats in [0, 1].")
  if images[0].shape[-1] not in (1, 3):
    raise ValueError(f"prepare_for_model: images must have 1 or 3 channels, got "
                     f"{images[0].shape[-1]}.")
  height, width, channels = meta.input_shape
  pixels = resize(images, (height, width), central_crop=central_crop)
  pixels = convert_channels(pixels.astype(np.float32), channels)
  return meta.preprocess(pixels)
