"""TensorFlow Datasets as random-access numpy sources (no TensorFlow needed).

Built on ``tfds.data_source`` (ArrayRecord files read with ``array_record``;
images decoded with OpenCV or PIL), so only ``tensorflow-datasets`` is needed.
The dataset must already be prepared in ArrayRecord format in ``data_dir``
(``tfds build --file_format=array_record``); nothing is downloaded unless
``download=True``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator

import numpy as np

from jaxviz import assets
from jaxviz.data import idx

__all__ = ("load_tfds", "TfdsSource")


@dataclasses.dataclass(frozen=True, eq=False)
class TfdsSource:
  """A TFDS split read example by example; batches like :class:`Dataset`.

  Attributes:
    source: the ``tfds.data_source`` random-access sequence.
    class_names: names of the label classes (empty if the label is not a
      ``ClassLabel``).
    name: e.g. ``"tfds:mnist/test"``.
    image_key: feature holding the image.
    label_key: feature holding the integer label.
  """

  source: Any
  class_names: tuple[str, ...]
  name: str
  image_key: str = "image"
  label_key: str = "label"

  def __len__(self) -> int:
    return len(self.source)

  def example(self, index: int) -> dict[str, np.ndarray]:
    """Returns example ``index`` as ``{"image": uint8 [H, W, C], "label": int32 []}``."""
    if not -len(self) <= index < len(self):
      raise IndexError(f"{self.name}: index {index} out of range for {len(self)} examples.")
    raw = self.source[int(index) % len(self)]
    image = np.asarray(raw[self.image_key])
    if image.ndim == 2:
      image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3:
      raise ValueError(f"{self.name}: feature {self.image_key!r} is a {image.dtype} array of "
                       f"shape {image.shape}; expected uint8 [H, W, C].")
    return {"image": image, "label": np.asarray(raw[self.label_key], np.int32)}

  def batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0,
              drop_remainder: bool = False) -> Iterator[dict[str, np.ndarray]]:
    """Yields ``{"image": uint8 [B, H, W, C], "label": int32 [B]}`` numpy batches.

    Examples are read one by one (``source[i]``): the batched
    ``__getitems__`` of tfds 4.9.10 fails under ``tfds.testing.mock_data``.

    Args:
      batch_size: examples per batch (> 0); the last batch may be smaller.
      shuffle: visit the examples in a random order drawn from ``seed``.
      seed: seed of the permutation (same seed, same order).
      drop_remainder: skip a last batch smaller than ``batch_size``.

    Raises:
      ValueError: the images of one batch differ in shape (resize them with
        :func:`jaxviz.data.resize`, or use ``batch_size=1``).
    """
    for indices in idx.batch_indices(len(self), batch_size, shuffle=shuffle, seed=seed,
                                     drop_remainder=drop_remainder):
      examples = [self.example(i) for i in indices]
      shapes = {ex["image"].shape for ex in examples}
      if len(shapes) > 1:
        raise ValueError(f"{self.name}: images in one batch have different shapes "
                         f"{sorted(shapes)}; use batch_size=1 or resize them.")
      yield {"image": np.stack([ex["image"] for ex in examples]),
             "label": np.stack([ex["label"] for ex in examples])}


  def to_dataset(self, max_examples: int | None = None) -> idx.Dataset:
    """Reads the first ``max_examples`` examples (all if None) into a :class:`Dataset`.

    Raises:
      ValueError: nothing to load, the images differ in shape, or the label
        is not a ``ClassLabel`` (no class names).
    """
    if not self.class_names:
      raise ValueError(f"{self.name}: feature {self.label_key!r} has no class names; "
                       "a Dataset needs them.")
    count = len(self) if max_examples is None else min(int(max_examples), len(self))
    if count <= 0:
      raise ValueError(f"{self.name}: nothing to load (max_examples={max_examples!r}, "
                       f"{len(self)} examples).")
    batch = next(self.batches(count))
    return idx.Dataset(images=batch["image"], labels=batch["label"],
                       class_names=self.class_names, name=self.name)


def load_tfds(name: str, split: str = "test", data_dir: str | os.PathLike | None = None,
              *, download: bool = False, image_key: str = "image",
              label_key: str = "label") -> TfdsSource:
  """Opens a prepared TFDS dataset split as a :class:`TfdsSource`.

  Args:
    name: TFDS name, e.g. ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``.
    split: TFDS split spec, e.g. ``"test"`` or ``"train[:10%]"``.
    data_dir: TFDS data folder (default: ``$TFDS_DATA_DIR`` or
      ``~/tensorflow_datasets``).
    download: let TFDS download and prepare the dataset when missing.
    image_key: feature holding the image.
    label_key: feature holding the integer label.

  Returns:
    A :class:`TfdsSource` of numpy examples.

  Raises:
    AssetNotFoundError: the dataset is not prepared in ``data_dir`` and
      ``download`` is False.
    ValueError: unknown TFDS name, or missing image/label features.
  """
  import tensorflow_datasets as tfds  # Heavy (about 1 s); only imported for TFDS.

  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"TFDS has no dataset {name!r}: {str(e).splitlines()[0]}") from e
  except (NotImplementedError, AssertionError, FileNotFoundError) as e:
    builder = tfds.builder(name, data_dir=data_dir)
    if builder.is_prepared():
      raise
    raise assets.AssetNotFoundError(
        f"TFDS dataset {name!r} is not prepared in ArrayRecord format under "
        f"{builder.data_dir}. Prepare it where the network is reachable with "
        f"`tfds build {name} --file_format=array_record` (and pass data_dir=... or set "
        "TFDS_DATA_DIR), or call load_tfds(..., download=True).") from e
  features = source.dataset_info.features
  missing = [k for k in (image_key, label_key) if k not in features]
  if missing:
    raise ValueError(f"TFDS dataset {name!r} has no feature(s) {missing}; its features are "
                     f"{sorted(features.keys())}. Pass image_key=/label_key=.")
  label_feature = features[label_key]
  class_names = tuple(getattr(label_feature, "names", ()) or ())
  return TfdsSource(source=source, class_names=class_names, name=f"tfds:{name}/{split}",
                    image_key=image_key, label_key=label_key)
