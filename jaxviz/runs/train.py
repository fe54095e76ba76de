"""Trains a small classifier (default: the small CNN on Fashion-MNIST).

Also holds what the inspection runs share: the trained small model (trained
on demand, :func:`trained_small_model`) and its dataset's test split.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from jaxviz import checkpoint
from jaxviz import data
from jaxviz import training
from jaxviz import workdir as wd

LOG = logging.getLogger(__name__)


def load_in_memory(name: str, split: str, data_dir: str):
  """A dataset as an in-memory ``Dataset`` (TFDS sources are materialised)."""
  dataset = data.load_dataset(name, split, data_dir=data_dir or None)
  return dataset if hasattr(dataset, "images") else dataset.to_dataset()


def model_spec(config, dataset) -> dict:
  """The JSON spec that rebuilds the configured model (saved with checkpoints)."""
  return {
      "model": config.model,
      "num_classes": len(dataset.class_names),
      "channels": list(config.channels),
      "hidden": config.hidden,
      "input_shape": list(dataset.images.shape[1:]),
      "class_names": list(dataset.class_names),
      "dataset": config.dataset,
  }


def to_inputs(images: np.ndarray) -> np.ndarray:
  """uint8 [N, H, W, C] -> float32 in [0, 1] (the small models' input space)."""
  return images.astype(np.float32) / 255.0


def limit(dataset, max_examples):
  if not max_examples or max_examples >= len(dataset):
    return dataset.images, dataset.labels
  return dataset.images[:max_examples], dataset.labels[:max_examples]


def run(config, workdir: pathlib.Path) -> dict:
  """Trains (or resumes) and evaluates; returns ``test_accuracy``, ``train_seconds``."""
  train_ds = load_in_memory(config.dataset, "train", config.data_dir)
  test_ds = load_in_memory(config.dataset, "test", config.data_dir)
  spec = model_spec(config, train_ds)
  model = checkpoint.build_small_model(spec)
  train_x, train_y = limit(train_ds, config.max_train_examples)
  test_x, test_y = limit(test_ds, config.max_test_examples)
  LOG.info("Training %s on %d %s images", config.model, len(train_x), config.dataset)
  params, stats = training.train(
      model, spec, to_inputs(train_x), train_y.astype(np.int32), workdir=workdir,
      batch_size=config.batch_size, epochs=config.epochs, learning_rate=config.learning_rate,
      seed=config.seed, checkpoint_every_steps=config.checkpoint_every_steps)
  pred = training.predict_labels(model, params, to_inputs(test_x))
  accuracy = float(np.mean(pred == test_y))
  per_class = {name: float(np.mean(pred[test_y == k] == k))
               for k, name in enumerate(test_ds.class_names) if np.any(test_y == k)}
  wd.write_npz(workdir / "test_predictions.npz", predictions=pred, labels=test_y)
  LOG.info("Test accuracy %.4f", accuracy)
  return {"test_accuracy": accuracy, "train_seconds": stats["train_seconds"],
          "steps": stats["steps"], "per_class_accuracy": per_class}


def ensure_trained(config, workdir: pathlib.Path):
  """Loads the model trained in ``workdir``, training it first if there is none.

  Returns:
    ``(model, params, meta)`` as :func:`jaxviz.checkpoint.load_trained`.
  """
  workdir = pathlib.Path(workdir)
  if not checkpoint.has_trained_model(workdir):
    LOG.info("No trained model in %s: training one now.", workdir)
    from jaxviz import experiment  # pylint: disable=g-import-not-at-top
    experiment.execute(run, config, workdir)
  return checkpoint.load_trained(workdir)


def trained_small_model(train_config, model_workdir: str, run_workdir: pathlib.Path,
                        default_name: str):
  """``(model, params, meta)`` trained in ``model_workdir`` (trained now if absent).

  Args:
    train_config: a ``configs/train.py`` config.
    model_workdir: the training workdir (``~`` expanded); "" means
      ``run_workdir / default_name``.
    run_workdir: the calling run's workdir.
    default_name: sub-folder name used when ``model_workdir`` is "".
  """
  path = pathlib.Path(model_workdir).expanduser() if model_workdir else run_workdir / default_name
  return ensure_trained(train_config, path)


def load_test_split(train_config, max_images: int = 0):
  """The test split of the dataset the model was trained on (first ``max_images``; 0 = all)."""
  ds = load_in_memory(train_config.dataset, "test", train_config.data_dir)
  if max_images and max_images < len(ds):
    ds = data.Dataset(images=ds.images[:max_images], labels=ds.labels[:max_images],
                      class_names=ds.class_names, name=ds.name)
  return ds
