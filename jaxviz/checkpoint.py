"""Checkpoints of small trained models: atomic, resumable, self-describing.

A checkpoint directory holds ``state.msgpack`` (params, optimizer state, step,
epoch) and ``model.json`` (how to rebuild the model and its meta), so any
experiment can load a model trained by ``experiments.train`` from a workdir.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp

from jaxviz import workdir as wd
from jaxviz.models import meta as meta_lib
from jaxviz.models import small_cnn

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.msgpack"
MODEL_FILE = "model.json"
FINAL_FILE = "final.msgpack"


def build_small_model(spec: dict[str, Any]):
  """Builds a small model from its JSON spec: ``{"model": "small_cnn", ...}``."""
  kind = spec["model"]
  if kind == "small_cnn":
    return small_cnn.SmallCNN(num_classes=spec["num_classes"], channels=tuple(spec["channels"]),
                              hidden=spec["hidden"])
  if kind == "linear":
    return small_cnn.LinearSoftmax(num_classes=spec["num_classes"])
  raise ValueError(f"Unknown small model {kind!r}; known: ['small_cnn', 'linear'].")


def meta_from_spec(spec: dict[str, Any]) -> meta_lib.ModelMeta:
  c = spec["input_shape"][-1]
  return meta_lib.ModelMeta(name=spec["model"], input_shape=tuple(spec["input_shape"]),
                            mean=(0.0,) * c, std=(1.0,) * c,
                            class_names=tuple(spec["class_names"]))


def save(directory: str | pathlib.Path, state: dict[str, Any], spec: dict[str, Any],
         final: bool = False) -> pathlib.Path:
  """Atomically writes a training state (and the model spec) into ``directory``."""
  directory = pathlib.Path(directory) / CHECKPOINT_DIR
  wd.write_json(directory / MODEL_FILE, spec)
  data = flax.serialization.msgpack_serialize(
      flax.serialization.to_state_dict(jax.device_get(state)))
  return wd.write_bytes(directory / (FINAL_FILE if final else STATE_FILE), data)


def restore(directory: str | pathlib.Path, final: bool = False) -> dict[str, Any] | None:
  """Returns the saved state dict, or None when there is no checkpoint."""
  path = pathlib.Path(directory) / CHECKPOINT_DIR / (FINAL_FILE if final else STATE_FILE)
  if not path.exists():
    return None
  try:
    return flax.serialization.msgpack_restore(path.read_bytes())
  except Exception as e:  # msgpack raises several unrelated types
    raise ValueError(f"{path}: corrupt checkpoint ({e!r}); delete it to retrain.") from e


def has_trained_model(directory: str | pathlib.Path) -> bool:
  d = pathlib.Path(directory) / CHECKPOINT_DIR
  return (d / FINAL_FILE).exists() and (d / MODEL_FILE).exists()


def load_trained(directory: str | pathlib.Path):
  """Loads the final model trained into ``directory`` by ``experiments.train``.

  Returns:
    ``(model, params, meta)``.

  Raises:
    FileNotFoundError: no finished training run in ``directory``.
  """
  directory = pathlib.Path(directory)
  if not has_trained_model(directory):
    raise FileNotFoundError(
        f"No trained model in {directory / CHECKPOINT_DIR} (expected {FINAL_FILE} and "
        f"{MODEL_FILE}). Train one with: python -m experiments.train "
        f"--config=configs/train.py --workdir={directory}")
  spec = json.loads((directory / CHECKPOINT_DIR / MODEL_FILE).read_text())
  state = restore(directory, final=True)
  params = jax.tree.map(jnp.asarray, state["params"])
  return build_small_model(spec), params, meta_from_spec(spec)
