"""Trains a small classifier (default: the small CNN on Fashion-MNIST) and tests it.

python -m experiments.train --config=configs/train.py --workdir=/tmp/jaxviz_cnn

Writes ``checkpoint/`` (resumable: a killed run continues where it stopped)
and ``test_predictions.npz``; the other experiments load the model from this
workdir (``--config.cnn_workdir``) or train it on demand through the same
procedure (:func:`experiments.inputs.train_small_model`).
"""

from __future__ import annotations

import pathlib

from experiments import common
from experiments import inputs


def run(config, workdir: pathlib.Path) -> dict:
  """Trains (or resumes) and evaluates.

  Metrics: ``test_accuracy``, ``train_seconds`` (this process's training
  time), ``steps``, ``per_class_accuracy``.
  """
  return inputs.train_small_model(config, pathlib.Path(workdir))


if __name__ == "__main__":
  common.main(run)
