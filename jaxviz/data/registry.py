"""One entry point for every labelled dataset: ``load_dataset(name, split)``."""

from __future__ import annotations

import os

from jaxviz.data import idx
from jaxviz.data import samples
from jaxviz.data import tfds_source

__all__ = ("DATASET_NAMES", "load_dataset", "TFDS_PREFIX")

TFDS_PREFIX = "tfds:"
DATASET_NAMES = ("fashion_mnist", "mnist", "digits", TFDS_PREFIX + "<tfds name>")


def load_dataset(name: str, split: str = "test", data_dir: str | os.PathLike | None = None,
                 **kwargs) -> idx.Dataset | tfds_source.TfdsSource:
  """Loads a dataset by name; every result has ``len``, ``class_names``, ``batches``.

  Args:
    name: ``"fashion_mnist"`` or ``"mnist"`` (IDX files, see
      :func:`~jaxviz.data.load_idx_dataset`), ``"digits"`` (scikit-learn, see
      :func:`~jaxviz.data.sklearn_digits`) or ``"tfds:<name>"`` (e.g.
      ``"tfds:cifar10"``, see :func:`~jaxviz.data.load_tfds`).
    split: split name, e.g. ``"train"`` or ``"test"``.
    data_dir: folder of the files (IDX, TFDS); None searches the default
      places. Must be None for ``"digits"`` (bundled with scikit-learn).
    **kwargs: passed to the TFDS loader (e.g. ``download=True``).

  Returns:
    A :class:`~jaxviz.data.Dataset` (in memory) for IDX and digits, a
    :class:`~jaxviz.data.TfdsSource` (read on demand; ``.to_dataset()`` loads
    it) for TFDS.
  """
  if name.startswith(TFDS_PREFIX) and len(name) > len(TFDS_PREFIX):
    return tfds_source.load_tfds(name[len(TFDS_PREFIX):], split, data_dir, **kwargs)
  if name not in DATASET_NAMES:
    raise ValueError(f"Unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}.")
  if kwargs:
    raise ValueError(f"Dataset {name!r} takes no options besides data_dir; got {sorted(kwargs)}.")
  if name == "digits":
    if data_dir is not None:
      raise ValueError("Dataset 'digits' ships with scikit-learn; data_dir must be None, "
                       f"got {data_dir!r}.")
    return samples.sklearn_digits(split)
  return idx.load_idx_dataset(name, split, data_dir)
