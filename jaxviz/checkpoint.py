"""Checkpoints of small trained models: atomic, resumable, self-describing.

A checkpoint directory holds ``state.msgpack`` (params, optimizer state,
step) while training, ``final.msgpack`` (the params) when training finished,
and ``model.json``, the JSON spec that rebuilds the model and its meta
(:func:`jaxviz.models.registry.build_small_model`). This module only writes
and reads states; it knows nothing about models.

Format decision: Flax's msgpack serialisation through :mod:`jaxviz.workdir`
(atomic replace), not orbax (see ``docs/architecture.md``): the states are a
few MB, written by one process, and must survive a kill at any point.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import flax.serialization
import jax

from jaxviz import workdir as wd

__all__ = ("CHECKPOINT_DIR", "FINAL_FILE", "MODEL_FILE", "STATE_FILE", "has_trained_model",
           "read_spec", "restore", "save")

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.msgpack"
MODEL_FILE = "model.json"
FINAL_FILE = "final.msgpack"


def save(directory: str | pathlib.Path, state: dict[str, Any], spec: dict[str, Any],
         final: bool = False) -> pathlib.Path:
  """Atomically writes a training state (and the model spec) into ``directory``."""
  directory = pathlib.Path(directory) / CHECKPOINT_DIR
  wd.write_json(directory / MODEL_FILE, spec)
  data = flax.serialization.msgpack_serialize(
      flax.serialization.to_state_dict(jax.device_get(state)))
  return wd.write_bytes(directory / (FINAL_FILE if final else STATE_FILE), data)


def restore(directory: str | pathlib.Path, final: bool = False) -> dict[str, Any] | None:
  """Returns the saved state dict, or None when there is no checkpoint.

  Raises:
    ValueError: the file exists but cannot be decoded (names it).
  """
  path = pathlib.Path(directory) / CHECKPOINT_DIR / (FINAL_FILE if final else STATE_FILE)
  if not path.exists():
    return None
  try:
    return flax.serialization.msgpack_restore(path.read_bytes())
  except Exception as e:  # msgpack raises several unrelated types
    raise ValueError(f"{path}: corrupt checkpoint ({e!r}); delete it to retrain.") from e


def read_spec(directory: str | pathlib.Path) -> dict[str, Any]:
  """The model spec saved with a checkpoint (``model.json``).

  Raises:
    FileNotFoundError: no spec in ``directory``.
    ValueError: the spec is not valid JSON.
  """
  path = pathlib.Path(directory) / CHECKPOINT_DIR / MODEL_FILE
  try:
    return json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: corrupt model spec ({e}); delete the checkpoint to retrain.") from e


def has_trained_model(directory: str | pathlib.Path) -> bool:
  """Whether ``directory`` holds a finished training run (final state and spec)."""
  d = pathlib.Path(directory) / CHECKPOINT_DIR
  return (d / FINAL_FILE).exists() and (d / MODEL_FILE).exists()
