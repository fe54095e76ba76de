"""In-memory datasets and the IDX format of MNIST and Fashion-MNIST.

IDX (http://yann.lecun.com/exdb/mnist/) is a big-endian header followed by raw
values: two zero bytes, a type code (``0x08`` = uint8), the number of
dimensions, one uint32 per dimension, then the data. Images are
``{train,t10k}-images-idx3-ubyte[.gz]`` ([N, 28, 28]) and labels
``{train,t10k}-labels-idx1-ubyte[.gz]`` ([N]).

Fashion-MNIST: Xiao et al. 2017, https://arxiv.org/abs/1708.07747.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
import zlib
from typing import Iterator

import numpy as np

from jaxviz import assets
from jaxviz import validation

__all__ = ("batch_indices", "Dataset", "FASHION_MNIST_CLASSES", "idx_search_dirs", "IDX_SPLITS",
           "load_idx_dataset", "MNIST_CLASSES", "read_idx")

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))

# Split name -> IDX file prefix.
IDX_SPLITS = {"train": "train", "test": "t10k"}

# Per dataset: class names, the shared asset folder (test split only) and
# system folders holding the full dataset.
_IDX_DATASETS = {
    "fashion_mnist": (FASHION_MNIST_CLASSES, "fashion_mnist_t10k",
                      ("/usr/share/datasets/fashion-mnist",)),
    "mnist": (MNIST_CLASSES, "mnist_t10k", ()),
}

_IDX_HOW_TO_GET = {
    "fashion_mnist": ("`python -m jaxviz.assets fetch fashion_mnist_t10k` downloads the full "
                      "Fashion-MNIST (train 60k + test 10k) into the user cache; or `apt-get "
                      "install dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist)"),
    "mnist": "`python -m jaxviz.assets fetch mnist_t10k` downloads the test split",
}


def batch_indices(num_examples: int, batch_size: int, *, shuffle: bool = False,
                  seed: int = 0, drop_remainder: bool = False) -> Iterator[np.ndarray]:
  """Yields index arrays that cover ``range(num_examples)`` in batches.

  Args:
    num_examples: dataset size N.
    batch_size: examples per batch (> 0).
    shuffle: visit the examples in a random order drawn from ``seed``.
    seed: seed of the ``np.random.default_rng`` permutation.
    drop_remainder: skip a last batch smaller than ``batch_size``.

  Yields:
    int64 arrays [B]; each index appears exactly once over all batches (except
    the dropped remainder).
  """
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  order = (np.random.default_rng(seed).permutation(num_examples) if shuffle
           else np.arange(num_examples))
  stop = num_examples - num_examples % batch_size if drop_remainder else num_examples
  for start in range(0, stop, batch_size):
    yield order[start:start + batch_size]


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """A labelled image dataset held in memory.

  Attributes:
    images: uint8 [N, H, W, C] (C = 1 for gray).
    labels: int32 [N], each in ``[0, len(class_names))``.
    class_names: one name per class.
    name: e.g. ``"fashion_mnist/test"``.
  """

  images: np.ndarray
  labels: np.ndarray
  class_names: tuple[str, ...]
  name: str

  def __post_init__(self):
    images, labels = self.images, self.labels
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
      raise ValueError(f"Dataset {self.name!r}: images must be a uint8 array [N, H, W, C], "
                       f"got {_describe(images)}.")
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int32 or labels.ndim != 1:
      raise ValueError(f"Dataset {self.name!r}: labels must be an int32 array [N], "
                       f"got {_describe(labels)}.")
    if len(images) != len(labels):
      raise ValueError(f"Dataset {self.name!r}: {len(images)} images but {len(labels)} labels.")
    object.__setattr__(self, "class_names", tuple(self.class_names))
    if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
      raise ValueError(
          f"Dataset {self.name!r}: labels span [{labels.min()}, {labels.max()}] but there are "
          f"{len(self.class_names)} class names.")

  def __len__(self) -> int:
    return len(self.labels)

  def batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0,
              drop_remainder: bool = False) -> Iterator[dict[str, np.ndarray]]:
    """Yields ``{"image": uint8 [B, H, W, C], "label": int32 [B]}`` numpy batches.

    Args:
      batch_size: examples per batch (> 0); the last batch may be smaller.
      shuffle: visit the examples in a random order drawn from ``seed``.
      seed: seed of the permutation (same seed, same order).
      drop_remainder: skip a last batch smaller than ``batch_size``.
    """
    for idx in batch_indices(len(self), batch_size, shuffle=shuffle, seed=seed,
                             drop_remainder=drop_remainder):
      yield {"image": self.images[idx], "label": self.labels[idx]}


def _describe(x) -> str:
  if isinstance(x, np.ndarray):
    return f"{x.dtype} array of shape {x.shape}"
  return type(x).__name__


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
  """Reads one uint8 IDX file, gzipped (``.gz``) or raw.

  Args:
    path: the file.
    ndim: expected number of dimensions (3 for images, 1 for labels), or None.

  Returns:
    uint8 array with the shape stored in the header.

  Raises:
    ValueError: naming the file when the gzip stream is corrupt, the magic
      number is wrong, or the size does not match the header.
  """
  path = pathlib.Path(path)
  try:
    raw = path.read_bytes()
    if path.suffix == ".gz":
      raw = gzip.decompress(raw)
  except (EOFError, OSError, zlib.error) as e:
    if isinstance(e, FileNotFoundError):
      raise
    raise ValueError(f"{path}: cannot read the gzip stream ({type(e).__name__}: {e}); "
                     "the file is truncated or corrupt.") from e
  if len(raw) < 4:
    raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header.")
  zero0, zero1, type_code, file_ndim = raw[:4]
  if zero0 or zero1:
    raise ValueError(f"{path}: bad IDX magic number 0x{raw[:4].hex()} "
                     "(the first two bytes must be zero); not an IDX file.")
  if type_code != 0x08:
    raise ValueError(f"{path}: IDX type code 0x{type_code:02x} is not supported; "
                     "only unsigned bytes (0x08) are.")
  if ndim is not None and file_ndim != ndim:
    raise ValueError(f"{path}: IDX header has {file_ndim} dimensions, expected {ndim}.")
  header = 4 + 4 * file_ndim
  if len(raw) < header:
    raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header}).")
  shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=file_ndim, offset=4))
  expected = header + int(np.prod(shape, dtype=np.int64))
  if len(raw) != expected:
    raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the "
                     f"file has {len(raw)} bytes; it is truncated or corrupt.")
  return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _find_idx_file(directory: pathlib.Path, stem: str) -> pathlib.Path | None:
  for name in (stem + ".gz", stem):
    if (directory / name).is_file():
      return directory / name
  return None


def idx_search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[pathlib.Path]:
  """Folders searched for the IDX files of ``name``, in order.

  An explicit ``data_dir`` is the only folder searched. Otherwise: each asset
  root (``$JAXVIZ_DATA_DIR``, the user cache) joined with the dataset's shared
  folder (test split only), then the system folders (Fashion-MNIST:
  ``/usr/share/datasets/fashion-mnist`` from ``apt-get install
  dataset-fashion-mnist``).
  """
  if name not in _IDX_DATASETS:
    raise ValueError(f"Unknown IDX dataset {name!r}; expected one of {sorted(_IDX_DATASETS)}.")
  if data_dir is not None:
    return [pathlib.Path(data_dir).expanduser()]
  _, folder, system_dirs = _IDX_DATASETS[name]
  return [root / folder for root in assets.search_roots()] + [pathlib.Path(d) for d in system_dirs]


def load_idx_dataset(name: str, split: str = "test",
                     data_dir: str | os.PathLike | None = None) -> Dataset:
  """Loads MNIST or Fashion-MNIST from IDX files.

  Args:
    name: ``"mnist"`` or ``"fashion_mnist"``.
    split: ``"train"`` (60k) or ``"test"`` (10k).
    data_dir: folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``;
      when None, see :func:`idx_search_dirs`.

  Returns:
    A :class:`Dataset` with images uint8 [N, 28, 28, 1] and int32 labels.

  Raises:
    AssetNotFoundError: no searched folder holds both files of the split.
    ValueError: unknown name or split, or a corrupt/inconsistent file.
  """
  if split not in IDX_SPLITS:
    raise ValueError(f"Unknown split {split!r} for {name!r}; expected one of {sorted(IDX_SPLITS)}.")
  dirs = idx_search_dirs(name, data_dir)
  class_names = _IDX_DATASETS[name][0]
  prefix = IDX_SPLITS[split]
  image_stem, label_stem = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
  for directory in dirs:
    image_path = _find_idx_file(directory, image_stem)
    label_path = _find_idx_file(directory, label_stem)
    if image_path and label_path:
      break
  else:
    raise assets.AssetNotFoundError(
        f"{name} split {split!r}: files {image_stem}[.gz] and {label_stem}[.gz] not found in "
        f"{', '.join(str(d) for d in dirs)}. Pass data_dir=..., or: {_IDX_HOW_TO_GET[name]}.")
  images = read_idx(image_path, ndim=3)
  labels = read_idx(label_path, ndim=1)
  if len(images) != len(labels):
    raise ValueError(f"{image_path} holds {len(images)} images but {label_path} holds "
                     f"{len(labels)} labels.")
  if len(labels) and labels.max() >= len(class_names):
    raise ValueError(f"{label_path}: label {labels.max()} is out of range for the "
                     f"{len(class_names)} classes of {name}.")
  return Dataset(images=images[..., None], labels=labels.astype(np.int32),
                 class_names=class_names, name=f"{name}/{split}")
