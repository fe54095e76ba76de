"""Content and style images from files, at one size, in the model's input space.

The content image keeps its aspect ratio (its longer side becomes
``image_size``); each style image is scaled to cover that size and cropped
around its centre, so that every style has the content's shape (one batched
run) without being distorted.
"""

from __future__ import annotations

import os
from typing import NamedTuple, Sequence

import numpy as np

from jaxviz import validation
from jaxviz.data import images as image_files
from jaxviz.data import preprocess
from jaxviz.models.meta import ModelMeta

__all__ = ("StyleImages", "cover_resize", "load_style_images", "prepare_style_images")


class StyleImages(NamedTuple):
  """A content image and S style images, as pixels and as model inputs.

  Attributes:
    content: [1, H, W, C] float32 in the model's input space.
    styles: [S, H, W, C] float32 in the model's input space.
    content_pixels: [1, H, W, C] uint8.
    style_pixels: [S, H, W, C] uint8.
  """

  content: np.ndarray
  styles: np.ndarray
  content_pixels: np.ndarray
  style_pixels: np.ndarray


def cover_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """Scales ``image`` [H, W, C] to cover ``size`` (H, W), then crops the centre to it."""
  h, w = image.shape[:2]
  scale = max(size[0] / h, size[1] / w)
  scaled = (max(size[0], round(h * scale)), max(size[1], round(w * scale)))
  out = preprocess.resize([image], scaled)[0]
  top, left = (scaled[0] - size[0]) // 2, (scaled[1] - size[1]) // 2
  return out[top:top + size[0], left:left + size[1]]


def prepare_style_images(content: np.ndarray, styles: Sequence[np.ndarray], meta: ModelMeta,
                         image_size: int) -> StyleImages:
  """Resizes uint8 pictures and maps them to ``meta``'s input space.

  Args:
    content: uint8 [H, W, C] the content picture.
    styles: uint8 [H_i, W_i, C] style pictures (at least one; any sizes).
    meta: the model's metadata (channels, preprocessing).
    image_size: the content's longer side in pixels after resizing.

  Returns:
    :class:`StyleImages` (the styles cropped to the content's shape).

  Raises:
    ValueError: not uint8 [H, W, C] pictures, no style, a bad size, or
      channel counts that differ from each other or from the model's.
  """
  image_size = validation.check_positive_int(image_size, "image_size")
  pictures = [np.asarray(content)] + [np.asarray(s) for s in styles]
  if len(pictures) < 2:
    raise ValueError("prepare_style_images needs at least one style picture.")
  bad = [i for i, p in enumerate(pictures) if p.dtype != np.uint8 or p.ndim != 3]
  if bad:
    raise ValueError(f"Pictures must be uint8 [H, W, C]; picture {bad[0]} (0 = the content) is "
                     f"{pictures[bad[0]].dtype} {pictures[bad[0]].shape}.")
  channels = [p.shape[-1] for p in pictures]
  if len(set(channels)) > 1:
    raise ValueError(f"The content and style images have different channel counts (content "
                     f"{channels[0]}, styles {channels[1:]}); convert them to one "
                     "(jaxviz.data.convert_channels).")
  if channels[0] != meta.input_shape[-1]:
    raise ValueError(f"{meta.name} takes {meta.input_shape[-1]}-channel images; the images have "
                     f"{channels[0]}.")
  h, w = pictures[0].shape[:2]
  scale = image_size / max(h, w)
  size = (max(1, round(h * scale)), max(1, round(w * scale)))
  content = preprocess.resize([pictures[0]], size)
  styles = np.stack([cover_resize(p, size) for p in pictures[1:]])
  return StyleImages(meta.preprocess(content), meta.preprocess(styles), content, styles)


def load_style_images(content_path: str | os.PathLike, style_paths: Sequence[str | os.PathLike],
                      meta: ModelMeta, image_size: int) -> StyleImages:
  """Reads the content and style images and prepares them for ``meta``'s model.

  Args:
    content_path: the content image file (JPEG, PNG or BMP).
    style_paths: one file per style (at least one).
    meta: the model's metadata (channels, preprocessing).
    image_size: the content's longer side in pixels after resizing.

  Returns:
    :class:`StyleImages` (see :func:`prepare_style_images`).

  Raises:
    FileNotFoundError: a file does not exist.
    ValueError: an unreadable file, no style, a bad size, images whose
      channel counts differ from each other (the message names the files)
      or from the model's.
  """
  validation.check_positive_int(image_size, "image_size")
  if isinstance(style_paths, (str, os.PathLike)) or not style_paths:
    raise ValueError(f"style_paths must be a non-empty list of files, got {style_paths!r}.")
  paths = [content_path] + list(style_paths)
  pictures = [image_files.load_image(p, mode=None) for p in paths]  # Checks every file first.
  channels = {str(p): im.shape[-1] for p, im in zip(paths, pictures)}
  if len(set(channels.values())) > 1:
    raise ValueError(f"The content and style images have different channel counts {channels}; "
                     "convert them to one (jaxviz.data.convert_channels).")
  return prepare_style_images(pictures[0], pictures[1:], meta, image_size)
