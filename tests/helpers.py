"""Helpers shared by the tests (imported as ``from tests import helpers``)."""

from __future__ import annotations

import os
import pathlib

import jax
import jax.extend  # count_primitive walks sub-jaxprs with jax.extend.core
import numpy as np
import pytest

from experiments import common
from experiments import inputs
from jaxviz import checkpoint
from jaxviz import models

DATA_DIR = os.environ.get("JAXVIZ_DATA_DIR")


def shared_asset(relpath: str) -> pathlib.Path:
  """Path of a real asset under $JAXVIZ_DATA_DIR, or skip the test saying why."""
  if not DATA_DIR:
    pytest.skip(f"needs the real asset {relpath}: set JAXVIZ_DATA_DIR to the shared data "
                "folder (CI sets it)")
  path = pathlib.Path(DATA_DIR) / relpath
  if not path.exists():
    pytest.skip(f"needs the real asset {path} (missing)")
  return path


def count_primitive(closed, name: str) -> int:
  """Occurrences of primitive ``name`` in a (closed) jaxpr, sub-jaxprs included."""
  total = 0
  for eqn in closed.jaxpr.eqns if hasattr(closed, "jaxpr") else closed.eqns:
    total += eqn.primitive.name == name
    for sub in jax.extend.core.jaxprs_in_params(eqn.params):
      total += count_primitive(sub, name)
  return total


class TraceCounter:
  """Wraps a model function and counts how often JAX traces it.

  ``f = TraceCounter(fn)``; pass ``f`` to a jitted method, call it twice with
  the same shapes and options, and ``f.count`` must not grow on the second
  call (one compile per configuration).
  """

  def __init__(self, fn):
    self.fn = fn
    self.count = 0

  def __call__(self, *args, **kwargs):
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((args, kwargs))):
      self.count += 1
    return self.fn(*args, **kwargs)


def random_variables(model, x_or_shape, *, seed: int = 0, **kwargs) -> dict:
  """``{"params": ...}`` drawn with :func:`jaxviz.models.random_params` (nothing compiles).

  ``x_or_shape`` is an input batch or its shape ``[B, H, W, C]``; ``kwargs`` go
  to ``random_params`` (``kernel_gain``, ``bias_std``).
  """
  shape = tuple(np.shape(x_or_shape)) if hasattr(x_or_shape, "shape") else tuple(x_or_shape)
  return {"params": models.random_params(model, shape, seed=seed, **kwargs)}


def save_untrained_cnn(train_config, directory) -> None:
  """A small CNN with random weights saved as if trained (skips seconds of training).

  The smoke tests check an experiment's pipeline, not the model's quality
  (training on demand is tested with experiments.train).
  """
  dataset = inputs.load_in_memory(train_config.dataset, "test", train_config.data_dir)
  spec = inputs.model_spec(train_config, dataset)
  model = models.build_small_model(spec)
  params = models.random_params(model, (1,) + dataset.images.shape[1:], seed=0)
  checkpoint.save(directory, {"params": params, "step": 0}, spec, final=True)


def smoke_runs_on_one_cnn(run, config, root: pathlib.Path) -> list[pathlib.Path]:
  """Runs an experiment's smoke ``config`` twice (workdirs ``root/a``, ``root/b``).

  Both runs share one untrained CNN saved into ``root/cnn`` (config.cnn_workdir),
  so a test can check the outputs and that the same config gives the same arrays.
  """
  config.cnn_workdir = str(root / "cnn")
  save_untrained_cnn(config.cnn_train, root / "cnn")
  workdirs = [root / "a", root / "b"]
  for workdir in workdirs:
    common.execute(run, config, workdir)
  return workdirs
