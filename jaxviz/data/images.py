"""Image files (JPEG, PNG, BMP) as uint8 numpy arrays [H, W, C]."""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import PIL.Image

__all__ = ("IMAGE_EXTENSIONS", "IMAGE_MODES", "labelled_images", "load_image", "load_image_folder",
           "parse_label")

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png")
IMAGE_MODES = ("RGB", "L", None)

# Foolbox sample names: <dataset>_<nn>_<label>.<ext>, e.g. imagenet_03_281.jpg.
_LABELLED_NAME = re.compile(r"^(?P<dataset>.+)_(?P<index>\d+)_(?P<label>\d+)$")


def load_image(path: str | os.PathLike, *, mode: str | None = "RGB") -> np.ndarray:
  """Reads an image file.

  Args:
    path: a JPEG, PNG or BMP file.
    mode: ``"RGB"`` -> [H, W, 3] (gray is replicated); ``"L"`` -> gray
      [H, W, 1] (ITU-R 601-2 luma); None -> the file's own channels: [H, W, 1]
      for gray files, [H, W, 3] otherwise (alpha and palettes are dropped).

  Returns:
    uint8 array [H, W, C].

  Raises:
    FileNotFoundError: the file does not exist.
    ValueError: unknown ``mode``, or the file is not a readable image.
  """
  if mode not in IMAGE_MODES:
    raise ValueError(f"mode must be one of {IMAGE_MODES}, got {mode!r}.")
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"Image file {path} does not exist.")
  try:
    with PIL.Image.open(path) as img:
      if img.mode.startswith(("I", "F")):
        raise ValueError(f"{path}: PIL mode {img.mode!r} (more than 8 bits per value) is not "
                         "supported; only 8-bit images are.")
      if mode is None:
        mode = "L" if img.mode in ("1", "L", "LA") else "RGB"
      array = np.asarray(img.convert(mode), np.uint8)
  except (OSError, PIL.Image.DecompressionBombError) as e:  # Includes UnidentifiedImageError.
    raise ValueError(f"Cannot read image {path}: {e}") from e
  return array[..., None] if array.ndim == 2 else array


def _image_files(directory: pathlib.Path, pattern: str | None) -> list[pathlib.Path]:
  if not directory.is_dir():
    raise FileNotFoundError(f"Image folder {directory} does not exist.")
  candidates = directory.glob(pattern) if pattern else directory.iterdir()
  files = sorted(p for p in candidates if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
  if not files:
    what = f"matching {pattern!r}" if pattern else f"with an extension in {IMAGE_EXTENSIONS}"
    raise ValueError(f"No image files {what} in {directory}.")
  return files


def load_image_folder(directory: str | os.PathLike, *, pattern: str | None = None,
                      mode: str | None = "RGB") -> tuple[list[np.ndarray], list[str]]:
  """Reads every image of a folder, sorted by file name.

  Args:
    directory: the folder (not searched recursively).
    pattern: a glob such as ``"*.jpg"``; None means every JPEG, PNG or BMP.
    mode: see :func:`load_image`.

  Returns:
    ``(images, names)``: uint8 [H_i, W_i, C] arrays (sizes may differ) and the
    matching file names.

  Raises:
    FileNotFoundError: the folder does not exist.
    ValueError: no image matches, or a file is unreadable.
  """
  files = _image_files(pathlib.Path(directory), pattern)
  return [load_image(p, mode=mode) for p in files], [p.name for p in files]


def parse_label(file_name: str) -> int:
  """Returns the label of a ``<dataset>_<nn>_<label>.<ext>`` file name."""
  match = _LABELLED_NAME.match(pathlib.Path(file_name).stem)
  if match is None:
    raise ValueError(f"File name {file_name!r} does not follow <dataset>_<nn>_<label>.<ext>.")
  return int(match["label"])


def labelled_images(directory: str | os.PathLike, pattern: str = "*", *,
                    mode: str | None = "RGB") -> tuple[list[str], list[np.ndarray], np.ndarray]:
  """Reads images named ``<dataset>_<nn>_<label>.<ext>`` (the foolbox samples).

  Args:
    directory: the folder, e.g. ``find_asset("foolbox_samples")``.
    pattern: glob selecting one dataset, e.g. ``"imagenet_*"`` or ``"mnist_*"``.
    mode: see :func:`load_image`.

  Returns:
    ``(names, images, labels)``: sorted file names, uint8 [H_i, W_i, C]
    arrays and int32 labels [N].

  Raises:
    ValueError: a matching file name carries no label, or see
      :func:`load_image_folder`.
  """
  files = _image_files(pathlib.Path(directory), pattern)
  labels = np.array([parse_label(p.name) for p in files], np.int32)
  return [p.name for p in files], [load_image(p, mode=mode) for p in files], labels
