"""One entry point for every model jaxviz ships: ``load_model(name, ...)``.

Pretrained networks load from their weight files; the small models trained
by ``experiments.train`` are rebuilt from the JSON spec saved with their
checkpoint (:func:`build_small_model`, :func:`load_trained`).
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import jax.numpy as jnp

from jaxviz import checkpoint
from jaxviz.models import meta as meta_lib
from jaxviz.models import mobilenet_loader
from jaxviz.models import small_cnn
from jaxviz.models import vgg

__all__ = ("MODEL_NAMES", "PRETRAINED", "TRAINED", "build_small_model", "load_model",
           "load_trained", "meta_from_spec")

PRETRAINED = ("mobilenet_v2", "mobilenet_v1", "vgg16", "vgg19")
TRAINED = ("small_cnn", "linear")
MODEL_NAMES = PRETRAINED + TRAINED


def build_small_model(spec: dict[str, Any]):
  """Builds a small model from its JSON spec: ``{"model": "small_cnn", ...}``."""
  kind = spec["model"]
  if kind == "small_cnn":
    return small_cnn.SmallCNN(num_classes=spec["num_classes"], channels=tuple(spec["channels"]),
                              hidden=spec["hidden"])
  if kind == "linear":
    return small_cnn.LinearSoftmax(num_classes=spec["num_classes"])
  raise ValueError(f"Unknown small model {kind!r}; known: {list(TRAINED)}.")


def meta_from_spec(spec: dict[str, Any]) -> meta_lib.ModelMeta:
  """The :class:`ModelMeta` of a small model: inputs are ``pixels / 255`` (in [0, 1])."""
  c = spec["input_shape"][-1]
  return meta_lib.ModelMeta(name=spec["model"], input_shape=tuple(spec["input_shape"]),
                            mean=(0.0,) * c, std=(1.0,) * c,
                            class_names=tuple(spec["class_names"]))


def load_trained(directory: str | pathlib.Path):
  """Loads the final model trained into ``directory`` by ``experiments.train``.

  Returns:
    ``(model, params, meta)``.

  Raises:
    FileNotFoundError: no finished training run in ``directory`` (says how to train one).
    ValueError: a corrupt checkpoint.
  """
  directory = pathlib.Path(directory)
  if not checkpoint.has_trained_model(directory):
    raise FileNotFoundError(
        f"No trained model in {directory / checkpoint.CHECKPOINT_DIR} (expected "
        f"{checkpoint.FINAL_FILE} and {checkpoint.MODEL_FILE}). Train one with: python -m "
        f"experiments.train --config=configs/train.py --workdir={directory}")
  spec = checkpoint.read_spec(directory)
  state = checkpoint.restore(directory, final=True)
  params = jax.tree.map(jnp.asarray, state["params"])
  return build_small_model(spec), params, meta_from_spec(spec)


def load_model(name: str, *, path: str | pathlib.Path | None = None, source: str = "npz",
               impl: str = "auto"):
  """Loads a model with its weights.

  Args:
    name: one of :data:`MODEL_NAMES`.
    path: the weight file (MobileNet: optional, found under
      ``$JAXVIZ_DATA_DIR``; VGG: a torchvision/timm ``.safetensors`` file,
      default ``vgg/vgg{16,19}.safetensors`` under ``$JAXVIZ_DATA_DIR``) or,
      for ``small_cnn``/``linear``, the workdir of an ``experiments.train`` run.
    source: MobileNet weight format, ``"npz"`` or ``"tflite"``.
    impl: convolution implementation (``"auto"``, ``"native"``, ``"fast"``).

  Returns:
    ``(model, params, meta)``.

  Raises:
    ValueError: unknown model name (lists the known ones).
  """
  if name in ("mobilenet_v2", "mobilenet_v1"):
    return mobilenet_loader.load_mobilenet(name, source=source, path=path, impl=impl)
  if name in ("vgg16", "vgg19"):
    return vgg.load_vgg_safetensors(path, int(name[3:]), impl=impl)
  if name in TRAINED:
    if path is None:
      raise ValueError(f"{name} needs path= to the workdir of an experiments.train run.")
    return load_trained(path)
  raise ValueError(f"Unknown model {name!r}; known models: {list(MODEL_NAMES)}.")
