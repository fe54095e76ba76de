"""Shape vs texture bias on cue-conflict images (Geirhos et al. 2019).

Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing
shape bias improves accuracy and robustness", ICLR 2019,
https://arxiv.org/abs/1811.12231 . A cue-conflict image has the shape of one
of 16 categories and the texture of another (style transfer). A classifier's
1000 ImageNet probabilities become a 16-way decision by the **mean**
probability over each category's ImageNet classes (the authors'
``probabilities_to_decision``); among images whose shape and texture
categories differ, a decision is a *shape* decision when it names the shape
category and a *texture* decision when it names the texture category, and

    shape bias = shape decisions / (shape decisions + texture decisions).

The paper reports 0.214 for ResNet-50 (humans: about 0.96). Per category, the
counts are those of the images of that **shape** category.

The stimuli folder has the authors' layout: one folder per shape category,
files ``<shape><i>-<texture><j>.png`` (e.g. ``cat7-elephant1.png``); the
texture category is the name after ``-`` without its digits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from typing import Mapping, Sequence

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import sharding
from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.data import images as images_lib
from jaxviz.data import preprocess
from jaxviz.models import meta as meta_lib

__all__ = (
    "CATEGORIES",
    "REFERENCE_SHAPE_BIAS",
    "CueConflictStimuli",
    "ShapeBias",
    "category_decisions",
    "category_probabilities",
    "count_shape_bias",
    "find_stimuli",
    "load_category_indices",
    "model_decisions",
)

CATEGORIES = ("airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair",
              "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck")
# Published shape biases (Geirhos et al. 2019, Fig. 4 and Table 2).
REFERENCE_SHAPE_BIAS = {"ResNet-50 (ImageNet)": 0.214, "humans": 0.96}
NUM_IMAGENET_CLASSES = 1000

_STIMULUS_NAME = re.compile(r"^(?P<shape>[a-z]+)\d+-(?P<texture>[a-z]+)\d+(?:_[a-z]+)?$")


def load_category_indices(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
  """The 16 categories' ImageNet class indices (0-based, 1000-class order) from JSON.

  Raises:
    ValueError: the file does not map exactly the 16 categories to lists of
      indices in [0, 1000).
  """
  with open(path, encoding="utf-8") as f:
    raw = json.load(f)
  if not isinstance(raw, dict) or sorted(raw) != sorted(CATEGORIES):
    raise ValueError(f"{path} must map the 16 categories {list(CATEGORIES)} to ImageNet "
                     f"indices, got keys {sorted(raw) if isinstance(raw, dict) else type(raw)}.")
  indices = {}
  for name in CATEGORIES:
    values = raw[name]
    if (not isinstance(values, list) or not values
        or not all(isinstance(v, int) and 0 <= v < NUM_IMAGENET_CLASSES for v in values)):
      raise ValueError(f"{path}: {name!r} must list ImageNet indices in [0, 1000), got {values!r}.")
    indices[name] = tuple(values)
  return indices


@dataclasses.dataclass(frozen=True)
class CueConflictStimuli:
  """A folder of cue-conflict images.

  Attributes:
    paths: the image files, sorted.
    shapes: each image's shape category (its folder).
    textures: each image's texture category (from its name).
  """

  paths: tuple[pathlib.Path, ...]
  shapes: tuple[str, ...]
  textures: tuple[str, ...]

  def load(self, mode: str = "RGB") -> list[np.ndarray]:
    """The images as uint8 arrays [H, W, C]."""
    return [images_lib.load_image(p, mode=mode) for p in self.paths]


def find_stimuli(directory: str | os.PathLike,
                 categories: Sequence[str] = CATEGORIES) -> CueConflictStimuli:
  """Finds the cue-conflict images of a folder in the authors' layout.

  Args:
    directory: a folder with one sub-folder per shape category.
    categories: the valid category names.

  Returns:
    The :class:`CueConflictStimuli`, sorted by path.

  Raises:
    FileNotFoundError: ``directory`` does not exist.
    ValueError: a sub-folder that is not a category, an image whose name is
      not ``<shape><i>-<texture><j>.<ext>`` or whose texture is not a
      category, or no image at all (each message lists what is valid).
  """
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    raise FileNotFoundError(f"Stimuli folder {directory} does not exist.")
  folders = sorted(p for p in directory.iterdir() if p.is_dir())
  unknown = [p.name for p in folders if p.name not in categories]
  if unknown:
    raise ValueError(f"Unknown class folders {unknown} in {directory}; the folders must be "
                     f"shape categories: {list(categories)}.")
  paths, shapes, textures = [], [], []
  for folder in folders:
    for path in sorted(folder.iterdir()):
      if not path.is_file() or path.suffix.lower() not in images_lib.IMAGE_EXTENSIONS:
        continue
      match = _STIMULUS_NAME.match(path.stem)
      if match is None:
        raise ValueError(f"Unrecognised stimulus name {path.name!r} in {folder}: expected "
                         "<shape><i>-<texture><j>.<ext>, e.g. cat7-elephant1.png.")
      if match["texture"] not in categories:
        raise ValueError(f"{path}: texture {match['texture']!r} is not a category; valid: "
                         f"{list(categories)}.")
      paths.append(path)
      shapes.append(folder.name)
      textures.append(match["texture"])
  if not paths:
    raise ValueError(f"No cue-conflict images (<shape-folder>/<shape><i>-<texture><j>"
                     f"{images_lib.IMAGE_EXTENSIONS}) found in {directory}.")
  return CueConflictStimuli(tuple(paths), tuple(shapes), tuple(textures))


def _index_matrix(indices: Mapping[str, Sequence[int]]) -> np.ndarray:
  """[1000, 16] averaging matrix: column c is 1/n_c on category c's n_c indices."""
  matrix = np.zeros((NUM_IMAGENET_CLASSES, len(CATEGORIES)), np.float32)
  for c, name in enumerate(CATEGORIES):
    matrix[list(indices[name]), c] = 1.0 / len(indices[name])
  return matrix


def category_probabilities(probabilities: jax.typing.ArrayLike,
                           indices: Mapping[str, Sequence[int]]) -> jax.Array:
  """[B, 1000] ImageNet probabilities -> [B, 16] mean probability per category."""
  probabilities = jnp.asarray(probabilities)
  if probabilities.ndim != 2 or probabilities.shape[1] != NUM_IMAGENET_CLASSES:
    raise ValueError(f"probabilities must be [B, 1000] (ImageNet order), got "
                     f"{probabilities.shape}.")
  return probabilities @ jnp.asarray(_index_matrix(indices))


def category_decisions(logits: jax.typing.ArrayLike, indices: Mapping[str, Sequence[int]],
                       label_offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """The 16-way decisions from a model's ImageNet logits.

  Args:
    logits: [B, label_offset + 1000] logits; MobileNet's 1001 logits have the
      background at index 0 (``label_offset=1``), which is dropped after the
      softmax over all logits.
    indices: from :func:`load_category_indices`.
    label_offset: ``meta.label_offset``.

  Returns:
    ``(decisions [B] category indices, category probabilities [B, 16])``.

  Raises:
    ValueError: logits of the wrong shape.
  """
  logits = jnp.asarray(logits)
  _check_logits_shape(logits.shape, label_offset)
  per_category = np.asarray(_logits_to_categories(logits, _index_matrix(indices), label_offset))
  return np.argmax(per_category, axis=1), per_category


def _check_logits_shape(shape, label_offset: int) -> None:
  if len(shape) != 2 or shape[1] != label_offset + NUM_IMAGENET_CLASSES:
    raise ValueError(f"logits must be [B, {label_offset + NUM_IMAGENET_CLASSES}] "
                     f"(label_offset={label_offset}), got {tuple(shape)}.")


def _logits_to_categories(logits, matrix, label_offset: int):
  """[B, label_offset + 1000] logits -> [B, 16] mean category probabilities."""
  return jax.nn.softmax(logits, axis=-1)[:, label_offset:] @ jnp.asarray(matrix)


@functools.partial(jax.jit, static_argnames=("fn", "label_offset"))
def _category_probabilities_of(fn, consts, matrix, x, *, label_offset):
  return _logits_to_categories(fn(consts, x), matrix, label_offset)


def model_decisions(f, meta: meta_lib.ModelMeta, stimuli: CueConflictStimuli,
                    indices: Mapping[str, Sequence[int]], *, batch_size: int = 16
                    ) -> tuple[list[str], np.ndarray]:
  """A model's 16-way decisions on the stimuli, in fixed-size batches.

  Args:
    f: model function ``logits [B, label_offset + 1000] = f(x)``.
    meta: its meta (input size, preprocessing, ``label_offset``).
    stimuli: from :func:`find_stimuli`.
    indices: from :func:`load_category_indices`.
    batch_size: images per forward pass (the last batch is padded).

  Returns:
    ``(decided category names [N], category probabilities [N, 16])``.
  """
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  x = preprocess.prepare_for_model(stimuli.load(), meta)
  batch_size = min(batch_size, len(x))
  prepared = gradients.prepare(f, "gradient", x[:batch_size])
  _check_logits_shape(prepared.out_shape.shape, meta.label_offset)
  matrix = jnp.asarray(_index_matrix(indices))
  probabilities = sharding.map_batches(
      lambda batch: _category_probabilities_of(prepared.fn, prepared.consts, matrix, batch,
                                               label_offset=meta.label_offset),
      [x], batch_size=batch_size)
  return [CATEGORIES[i] for i in np.argmax(probabilities, axis=1)], probabilities


@dataclasses.dataclass(frozen=True)
class ShapeBias:
  """Shape vs texture decisions on cue-conflict images.

  Attributes:
    shape_decisions: decisions naming the shape category.
    texture_decisions: decisions naming the texture category.
    images_evaluated: images whose shape and texture categories differ.
    excluded: images whose shape and texture categories are equal.
    per_category: shape category -> ``{"shape", "texture", "images",
      "shape_bias"}`` (``shape_bias`` None without a shape or texture decision).
  """

  shape_decisions: int
  texture_decisions: int
  images_evaluated: int
  excluded: int
  per_category: dict[str, dict[str, float | int | None]]

  @property
  def shape_bias(self) -> float | None:
    """shape / (shape + texture); None when neither was ever decided."""
    cued = self.shape_decisions + self.texture_decisions
    return self.shape_decisions / cued if cued else None

  @property
  def shape_accuracy(self) -> float:
    """Fraction of evaluated images whose decision is the shape category."""
    return self.shape_decisions / max(self.images_evaluated, 1)

  @property
  def texture_accuracy(self) -> float:
    """Fraction of evaluated images whose decision is the texture category."""
    return self.texture_decisions / max(self.images_evaluated, 1)


def count_shape_bias(decisions: Sequence[str], shapes: Sequence[str],
                     textures: Sequence[str]) -> ShapeBias:
  """Counts shape and texture decisions (images with shape == texture excluded).

  Args:
    decisions: each image's decided category name.
    shapes: each image's shape category.
    textures: each image's texture category.

  Returns:
    A :class:`ShapeBias`.

  Raises:
    ValueError: sequences of different lengths or unknown category names.
  """
  if not len(decisions) == len(shapes) == len(textures):
    raise ValueError(f"decisions, shapes and textures need one entry per image, got "
                     f"{len(decisions)}, {len(shapes)} and {len(textures)}.")
  unknown = sorted((set(decisions) | set(shapes) | set(textures)) - set(CATEGORIES))
  if unknown:
    raise ValueError(f"Unknown categories {unknown}; valid: {list(CATEGORIES)}.")
  per_category = {name: {"shape": 0, "texture": 0, "images": 0} for name in CATEGORIES}
  excluded = 0
  for decision, shape, texture in zip(decisions, shapes, textures):
    if shape == texture:
      excluded += 1
      continue
    counts = per_category[shape]
    counts["images"] += 1
    counts["shape"] += decision == shape
    counts["texture"] += decision == texture
  for counts in per_category.values():
    cued = counts["shape"] + counts["texture"]
    counts["shape_bias"] = counts["shape"] / cued if cued else None
  return ShapeBias(
      shape_decisions=sum(c["shape"] for c in per_category.values()),
      texture_decisions=sum(c["texture"] for c in per_category.values()),
      images_evaluated=sum(c["images"] for c in per_category.values()),
      excluded=excluded,
      per_category={k: v for k, v in per_category.items() if v["images"]})
