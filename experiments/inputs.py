"""The one input layer of the experiments: models with their meta, images, targets, captions.

Every experiment gets its model and images here and nowhere else; no
experiment imports another. The pieces:

* datasets in memory (:func:`load_in_memory`, :func:`limit`,
  :func:`load_test_split`, :func:`pick_test_images`);
* the small models of ``experiments.train``: the training procedure itself
  (:func:`train_small_model`) and the trained model on demand
  (:func:`trained_small_model`, training it first when its workdir holds none);
* ImageNet photos (:func:`load_photos`) and the model inputs bundled with
  their top-1 targets and captions (:class:`ModelInputs`,
  :func:`imagenet_inputs`, :func:`small_cnn_inputs`);
* the helpers around them: one jitted forward pass (:func:`logits`), the
  top-1 target with the background offset (:func:`top1_targets`), class
  names (:func:`class_name`), pixels from model inputs (:func:`to_pixels`)
  and file stems (:func:`file_stem`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
import re
from typing import Any, Callable, Sequence

import jax
import numpy as np

from experiments import common
from jaxviz import assets
from jaxviz import checkpoint
from jaxviz import data
from jaxviz import training
from jaxviz import validation
from jaxviz import workdir as wd
from jaxviz.models import meta as meta_lib
from jaxviz.models import registry

LOG = logging.getLogger(__name__)

PHOTOS = "sample_images_imagenet"  # the shared photo folder (an asset)


# ------------------------------------------------------------------ datasets


def load_in_memory(name: str, split: str, data_dir: str = "") -> data.Dataset:
  """A dataset split as an in-memory :class:`~jaxviz.data.Dataset` (TFDS read fully)."""
  dataset = data.load_dataset(name, split, data_dir=data_dir or None)
  return dataset if isinstance(dataset, data.Dataset) else dataset.to_dataset()


def limit(dataset: data.Dataset, max_examples: int) -> tuple[np.ndarray, np.ndarray]:
  """``(images, labels)`` of the first ``max_examples`` examples (0 = all)."""
  if not max_examples or max_examples >= len(dataset):
    return dataset.images, dataset.labels
  return dataset.images[:max_examples], dataset.labels[:max_examples]


def load_test_split(train_config, max_images: int = 0) -> data.Dataset:
  """The test split of the dataset a small model was trained on (first ``max_images``; 0 = all)."""
  ds = load_in_memory(train_config.dataset, "test", train_config.data_dir)
  if max_images and max_images < len(ds):
    ds = data.Dataset(images=ds.images[:max_images], labels=ds.labels[:max_images],
                      class_names=ds.class_names, name=ds.name)
  return ds


def pick_test_images(labels: np.ndarray, count: int) -> np.ndarray:
  """Indices of the first test image of each class, classes in order, ``count`` of them.

  Raises:
    ValueError: ``count`` is not in [1, number of classes present].
  """
  classes, first = np.unique(labels, return_index=True)
  if not 1 <= count <= len(classes):
    raise ValueError(f"num_images must be in [1, {len(classes)}] (one image per class), got "
                     f"{count}.")
  return np.sort(first[np.argsort(classes)][:count])


# -------------------------------------------------------------- small models


def model_spec(train_config, dataset: data.Dataset) -> dict:
  """The JSON spec that rebuilds the configured small model (saved with checkpoints)."""
  return {
      "model": train_config.model,
      "num_classes": len(dataset.class_names),
      "channels": list(train_config.channels),
      "hidden": train_config.hidden,
      "input_shape": list(dataset.images.shape[1:]),
      "class_names": list(dataset.class_names),
      "dataset": train_config.dataset,
  }


def train_small_model(config, workdir: pathlib.Path) -> dict:
  """Trains (or resumes) a small model into ``workdir`` and evaluates it on the test split.

  The procedure of ``experiments.train``; writes ``checkpoint/`` and
  ``test_predictions.npz``.

  Returns:
    Metrics: ``test_accuracy``, ``train_seconds``, ``steps``, ``per_class_accuracy``.
  """
  train_ds = load_in_memory(config.dataset, "train", config.data_dir)
  test_ds = load_in_memory(config.dataset, "test", config.data_dir)
  spec = model_spec(config, train_ds)
  model = registry.build_small_model(spec)
  meta = registry.meta_from_spec(spec)
  train_x, train_y = limit(train_ds, config.max_train_examples)
  test_x, test_y = limit(test_ds, config.max_test_examples)
  LOG.info("Training %s on %d %s images", config.model, len(train_x), config.dataset)
  params, stats = training.train(
      model, spec, meta.preprocess(train_x), train_y, workdir=workdir,
      batch_size=config.batch_size, epochs=config.epochs, learning_rate=config.learning_rate,
      seed=config.seed, checkpoint_every_steps=config.checkpoint_every_steps)
  pred = training.predict_labels(model, params, meta.preprocess(test_x))
  accuracy = float(np.mean(pred == test_y))
  per_class = {name: float(np.mean(pred[test_y == k] == k))
               for k, name in enumerate(test_ds.class_names) if np.any(test_y == k)}
  wd.write_npz(pathlib.Path(workdir) / "test_predictions.npz", predictions=pred, labels=test_y)
  LOG.info("Test accuracy %.4f", accuracy)
  return {"test_accuracy": accuracy, "train_seconds": stats["train_seconds"],
          "steps": stats["steps"], "per_class_accuracy": per_class}


def trained_small_model(train_config, model_workdir: str, run_workdir: pathlib.Path,
                        default_name: str):
  """``(model, params, meta)`` trained in ``model_workdir``, trained now if absent.

  Args:
    train_config: a ``configs/train.py`` config.
    model_workdir: the training workdir (``~`` expanded); "" means
      ``run_workdir / default_name``.
    run_workdir: the calling run's workdir.
    default_name: sub-folder name used when ``model_workdir`` is "".
  """
  path = pathlib.Path(model_workdir).expanduser() if model_workdir else run_workdir / default_name
  if not checkpoint.has_trained_model(path):
    LOG.info("No trained model in %s: training one now.", path)
    common.execute(train_small_model, train_config, path)
  return registry.load_trained(path)


# --------------------------------------------------------- inputs and targets


@functools.partial(jax.jit, static_argnames=("model",))
def logits(model, params, x: jax.Array) -> jax.Array:
  """The model's logits [B, K] for inputs x [B, H, W, C] (one compile per model and shape)."""
  return model.apply({"params": params}, x)


def top1_targets(logit_values: np.ndarray, meta: meta_lib.ModelMeta) -> np.ndarray:
  """int32 [B] logit index of each row's most likely dataset class (background excluded)."""
  logit_values = np.asarray(logit_values)
  classes = logit_values[:, meta.label_offset:meta.label_offset + meta.num_classes]
  return (np.argmax(classes, axis=-1) + meta.label_offset).astype(np.int32)


def class_name(meta: meta_lib.ModelMeta, logit_index: int) -> str:
  """The class name of a logit, its first synonym ("hotdog, hot dog" -> "hotdog")."""
  c = int(meta.class_index([logit_index])[0])
  return meta.class_names[c].split(",")[0] if c >= 0 else "background"


def to_pixels(x: np.ndarray, meta: meta_lib.ModelMeta) -> np.ndarray:
  """Model inputs [B, H, W, C] -> uint8 RGB [B, H, W, 3] (gray repeated)."""
  pixels = np.round(meta.deprocess(x) * 255.0).astype(np.uint8)
  return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def file_stem(text: str) -> str:
  """A file-name-safe version of ``text`` ("expanded_conv_3/expand" -> "expanded_conv_3_expand")."""
  return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


@dataclasses.dataclass(frozen=True)
class ModelInputs:
  """One model with the images to explain and their top-1 targets.

  Attributes:
    name: the model's name, e.g. ``"mobilenet_v2"`` or ``"small_cnn"``.
    model: the Flax module.
    params: its parameters.
    meta: its :class:`~jaxviz.models.meta.ModelMeta`.
    f: the model function ``x -> logits`` (one object, reused for caching).
    x: float32 inputs [N, H, W, C] in the model's input space.
    targets: int32 [N] top-1 logit index per image (background excluded).
    names: N image names (file names, or ``test #i``).
    class_names: N predicted class names (first synonym).
    true_labels: N true class names, or None (unlabelled photos).
  """

  name: str
  model: Any
  params: Any
  meta: meta_lib.ModelMeta
  f: Callable[[jax.Array], jax.Array]
  x: np.ndarray
  targets: np.ndarray
  names: list[str]
  class_names: list[str]
  true_labels: list[str] | None = None

  @property
  def labelled_names(self) -> list[str]:
    """The image names with their true class when known: ``test #3 (Dress)``."""
    if self.true_labels is None:
      return list(self.names)
    return [f"{n} ({t})" for n, t in zip(self.names, self.true_labels)]

  @property
  def captions(self) -> list[str]:
    """Two-line captions: the image (and its true class), then the prediction."""
    if self.true_labels is None:
      return [f"{n}\n{c}" for n, c in zip(self.names, self.class_names)]
    return [f"{n}\npred: {c}" for n, c in zip(self.labelled_names, self.class_names)]

  @property
  def pixels(self) -> np.ndarray:
    """The images as uint8 RGB [N, H, W, 3]."""
    return to_pixels(self.x, self.meta)


def with_targets(name: str, model, params, meta: meta_lib.ModelMeta, x: np.ndarray,
                 names: Sequence[str], true_labels: Sequence[str] | None = None) -> ModelInputs:
  """Bundles a model and its inputs with the top-1 targets and predicted class names."""
  validation.check_model_input(x, meta)
  targets = top1_targets(logits(model, params, x), meta)
  return ModelInputs(name=name, model=model, params=params, meta=meta,
                     f=functools.partial(model.apply, {"params": params}), x=x, targets=targets,
                     names=list(names), class_names=[class_name(meta, t) for t in targets],
                     true_labels=None if true_labels is None else list(true_labels))


def load_photos(folder: str = "", files: Sequence[str] = (),
                max_images: int = 0) -> tuple[list[np.ndarray], list[str]]:
  """Photos of ``folder`` (default: the shared ``sample_images_imagenet`` asset).

  Args:
    folder: explicit folder, or "" for the shared sample photos.
    files: file names to keep, in this order; empty keeps every image.
    max_images: keep at most this many (0 = all).

  Returns:
    ``(uint8 images [H_i, W_i, 3], names)``.

  Raises:
    AssetNotFoundError: the folder is absent.
    ValueError: a requested file is not in the folder.
  """
  directory = assets.find_asset(PHOTOS, folder or None)
  images, names = data.load_image_folder(directory)
  if files:
    missing = [f for f in files if f not in names]
    if missing:
      raise ValueError(f"Image file(s) {missing} not in {directory}; available: {names}.")
    images, names = [images[names.index(f)] for f in files], list(files)
  if max_images:
    images, names = images[:max_images], names[:max_images]
  return images, names


FOOLBOX_SAMPLES = "foolbox_samples"  # labelled ImageNet (and other) samples (an asset)


def reference_photos(folder: str = "") -> list[np.ndarray]:
  """Real ImageNet photos: the sample photos and the 20 foolbox ImageNet samples (uint8).

  The reference for "as strong as a real photo" measures (feature
  visualization) and colour statistics.

  Raises:
    AssetNotFoundError: either folder is absent.
  """
  photos, _ = load_photos(folder)
  _, samples, _ = data.labelled_images(assets.find_asset(FOOLBOX_SAMPLES), "imagenet_*")
  return list(photos) + list(samples)


def imagenet_inputs(model_name: str, *, weights: str = "", images: str = "",
                    files: Sequence[str] = (), max_images: int = 0) -> ModelInputs:
  """An ImageNet model (``mobilenet_v2``, ``vgg16``, ...) with photos and top-1 targets.

  Raises:
    AssetNotFoundError: the weights or the photo folder are absent.
  """
  model, params, meta = registry.load_model(model_name, path=weights or None)
  photos, names = load_photos(images, files, max_images)
  return with_targets(model_name, model, params, meta, data.prepare_for_model(photos, meta),
                      names)


def small_cnn_inputs(train_config, cnn_workdir: str, run_workdir: pathlib.Path, *,
                     num_images: int, one_per_class: bool = True) -> ModelInputs:
  """The trained small CNN (trained now if absent) with test images and top-1 targets.

  Args:
    train_config: the ``configs/train.py`` config of the model.
    cnn_workdir: its training workdir ("" = ``run_workdir/cnn``).
    run_workdir: the calling run's workdir.
    num_images: how many test images.
    one_per_class: the first test image of each class (classes in order);
      False: the first ``num_images`` test images.
  """
  model, params, meta = trained_small_model(train_config, cnn_workdir, run_workdir, "cnn")
  test = load_test_split(train_config)
  num_images = validation.check_positive_int(num_images, "num_images")
  idx = (pick_test_images(test.labels, num_images) if one_per_class
         else np.arange(min(num_images, len(test))))
  return with_targets("small_cnn", model, params, meta, meta.preprocess(test.images[idx]),
                      [f"test #{i}" for i in idx],
                      [test.class_names[test.labels[i]] for i in idx])


SMALL_MODELS = ("small_cnn",)


def configured_inputs(name: str, config, workdir: pathlib.Path, *,
                      one_per_class: bool = True) -> ModelInputs:
  """The inputs an experiment config describes for model ``name``.

  The config holds ``cnn_train`` and ``cnn_workdir`` (the small CNN) and a
  section ``config.<name>``: for ``small_cnn`` its ``num_images`` (test
  images), for an ImageNet model its ``weights``, ``images`` (folder),
  ``files`` and ``max_images`` ("" / empty / 0 = the defaults).

  Raises:
    AssetNotFoundError: an ImageNet model's weights or photos are absent.
  """
  settings = config[name]
  if name in SMALL_MODELS:
    return small_cnn_inputs(config.cnn_train, config.cnn_workdir, workdir,
                            num_images=settings.num_images, one_per_class=one_per_class)
  return imagenet_inputs(name, weights=settings.weights, images=settings.images,
                         files=settings.files, max_images=settings.max_images)


def configured_inputs_or_skips(config, workdir: pathlib.Path, *, one_per_class: bool = True
                               ) -> tuple[dict[str, ModelInputs], dict[str, str]]:
  """:func:`configured_inputs` of every model in ``config.models``, skipping absent assets.

  Returns:
    ``({model: ModelInputs}, {model: why it was skipped})``; a model whose
    weights or photos are missing is logged and skipped, not an error.
  """
  loaded, skipped = {}, {}
  for name in config.models:
    try:
      loaded[name] = configured_inputs(name, config, workdir, one_per_class=one_per_class)
    except assets.AssetNotFoundError as e:
      LOG.warning("Skipping %s: %s", name, e)
      skipped[name] = str(e)
  return loaded, skipped
