"""Sample data bundled with scikit-image and scikit-learn (offline)."""

from __future__ import annotations

import numpy as np

from jaxviz.data import idx
from jaxviz.data import preprocess

__all__ = ("DIGITS_SPLITS", "skimage_image", "SKIMAGE_IMAGES", "sklearn_digits")

# scikit-image sample pictures shipped inside its wheel (no download needed);
# 8-bit RGB photos first, then 8-bit gray ones.
SKIMAGE_IMAGES = (
    "astronaut", "cat", "chelsea", "coffee", "hubble_deep_field",
    "immunohistochemistry", "retina", "rocket",
    "brick", "camera", "cell", "clock", "coins", "grass", "gravel", "moon", "page", "text",
)

DIGITS_SPLITS = ("all", "train", "test")


def skimage_image(name: str, *, mode: str | None = "RGB") -> np.ndarray:
  """Returns a scikit-image sample picture, e.g. ``"chelsea"`` (a cat) or ``"coffee"``.

  Args:
    name: one of :data:`SKIMAGE_IMAGES`.
    mode: ``"RGB"`` -> [H, W, 3] (gray replicated); ``"L"`` -> [H, W, 1]
      (ITU-R 601-2 luma); None -> the picture's own channels.

  Returns:
    uint8 array [H, W, C].
  """
  if name not in SKIMAGE_IMAGES:
    raise ValueError(f"Unknown scikit-image sample {name!r}; known: {', '.join(SKIMAGE_IMAGES)}.")
  if mode not in ("RGB", "L", None):
    raise ValueError(f"mode must be 'RGB', 'L' or None, got {mode!r}.")
  import skimage.data  # Lazy: only needed here.

  image = np.asarray(getattr(skimage.data, name)(), np.uint8)
  if image.ndim == 2:
    image = image[..., None]
  return image if mode is None else preprocess.convert_channels(image, 3 if mode == "RGB" else 1)


def sklearn_digits(split: str = "all") -> idx.Dataset:
  """The scikit-learn digits (UCI optical digits test set): 1797 gray 8x8 images.

  Pixel counts 0..16 are scaled to 0..255 (``round(v * 255 / 16)``). Splits
  follow scikit-learn's digits classification example
  (``train_test_split(test_size=0.5, shuffle=False)``): ``"train"`` is the
  first 898 images, ``"test"`` the last 899.

  Args:
    split: ``"all"``, ``"train"`` or ``"test"``.

  Returns:
    A :class:`Dataset` with images uint8 [N, 8, 8, 1] and labels 0..9.
  """
  if split not in DIGITS_SPLITS:
    raise ValueError(f"Unknown split {split!r} for digits; expected one of {DIGITS_SPLITS}.")
  import sklearn.datasets  # Lazy: importing scikit-learn takes seconds.

  digits = sklearn.datasets.load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int32)
  num_train = len(labels) // 2
  part = {"all": slice(None), "train": slice(None, num_train),
          "test": slice(num_train, None)}[split]
  return idx.Dataset(images=images[part], labels=labels[part],
                     class_names=idx.MNIST_CLASSES, name=f"digits/{split}")
