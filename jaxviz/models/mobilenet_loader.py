"""Loads the ImageNet MobileNetV1/V2 weights from TFLite or npz files.

The weights are the TF-slim quantization-aware-trained models published as
TFLite files (see ``$JAXVIZ_DATA_DIR/mobilenet_imagenet/SOURCE.txt``). Both
sources give bit-identical float32 parameters.
"""

from __future__ import annotations

import pathlib
import zipfile

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import assets
from jaxviz.models import meta as meta_lib
from jaxviz.models import mobilenet
from jaxviz.models import tflite_reader

__all__ = ("imagenet_class_names", "LABELS_FILE", "load_mobilenet", "SOURCES", "SPECS")

LABELS_FILE = "mobilenet_imagenet/imagenet_labels_1001.txt"
SPECS = {
    # name: (module class, width, input size, file stem)
    "mobilenet_v2": (mobilenet.MobileNetV2, 1.0, 224, "mobilenet_v2_1.0_224_quant"),
    "mobilenet_v1": (mobilenet.MobileNetV1, 0.25, 128, "mobilenet_v1_0.25_128_quant"),
}
SOURCES = ("npz", "tflite")


def imagenet_class_names(path: str | pathlib.Path | None = None) -> tuple[str, ...]:
  """The 1000 ImageNet class names in the standard (sorted WNID) order."""
  path = assets.find_asset(LABELS_FILE, path)
  lines = pathlib.Path(path).read_text().splitlines()
  if len(lines) != 1001 or lines[0].strip() != "background":
    raise ValueError(f"{path}: expected 1001 lines starting with 'background', got "
                     f"{len(lines)} lines.")
  return tuple(line.strip() for line in lines[1:])


def _param_shapes(module, size: int):
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  return jax.eval_shape(module.init, jax.random.key(0), x)["params"]


def _conv_paths(module, shapes, size: int) -> list[tuple[str, ...]]:
  """Paths of the conv layers in execution order (the TFLite op order)."""
  with_kernel = {p[:-1] for p in flax.traverse_util.flatten_dict(shapes) if p[-1] == "kernel"}
  order = []

  def record(next_fun, args, kwargs, context):
    path = tuple(context.module.scope.path)
    if context.method_name == "__call__" and path in with_kernel and path not in order:
      order.append(path)
    return next_fun(*args, **kwargs)

  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  with nn.intercept_methods(record):
    jax.eval_shape(module.init, jax.random.key(0), x)
  return order


def _npz_path(key: str) -> tuple[str, ...]:
  parts = key.split("/")[1:]  # drop the "MobilenetV2" scope
  return ("Logits",) if parts[0] == "Logits" else tuple(parts)


def _load_npz(path: pathlib.Path) -> dict[tuple[str, ...], dict[str, np.ndarray]]:
  try:
    with np.load(path) as data:
      arrays = {k: np.asarray(data[k], np.float32) for k in data.files}
  except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
    raise ValueError(f"{path}: cannot read the npz weight file ({e}); it is truncated or "
                     "corrupt. Re-create it from the .tflite file or load source='tflite'.") from e
  layers = {}
  for key, value in arrays.items():
    layer, _, leaf = key.rpartition("/")
    layers.setdefault(_npz_path(layer), {})[leaf] = value
  return layers


def _load_tflite(path: pathlib.Path, order: list[tuple[str, ...]]):
  convs = tflite_reader.read_conv_weights(path)
  if len(convs) != len(order):
    raise ValueError(f"{path}: found {len(convs)} conv ops, the architecture has {len(order)}; "
                     "is this the right model file?")
  return {p: {"kernel": c.kernel, "bias": c.bias} for p, c in zip(order, convs)}


def load_mobilenet(name: str = "mobilenet_v2", source: str = "npz",
                   path: str | pathlib.Path | None = None, impl: str = "auto"):
  """Builds a MobileNet and loads its ImageNet weights.

  Args:
    name: ``"mobilenet_v2"`` (1.0/224) or ``"mobilenet_v1"`` (0.25/128).
    source: ``"npz"`` (float32, dequantized) or ``"tflite"`` (the original
      quantized flatbuffer, dequantized here as ``scale * (q - zero_point)``).
    path: explicit weight file; default: found under ``$JAXVIZ_DATA_DIR`` or
      the user cache (``mobilenet_imagenet/<stem>[_dequant_float32].npz|.tflite``).
    impl: convolution implementation (``"auto"``, ``"native"``, ``"fast"``).

  Returns:
    ``(model, params, meta)``: a Flax module, its ``params`` dict, and a
    :class:`~jaxviz.models.meta.ModelMeta` (input in [-1, 1], 1001 logits with
    the background class at index 0, so ``label_offset = 1``).

  Raises:
    ValueError: unknown name/source, or a corrupt/mismatching weight file.
    AssetNotFoundError: the weight file is missing (names it and its source).
  """
  if name not in SPECS:
    raise ValueError(f"Unknown MobileNet {name!r}; known: {sorted(SPECS)}.")
  if source not in SOURCES:
    raise ValueError(f"Unknown weight source {source!r}; expected one of {SOURCES}.")
  cls, width, size, stem = SPECS[name]
  module = cls(num_logits=1001, width=width, impl=impl)
  shapes = _param_shapes(module, size)
  order = _conv_paths(module, shapes, size)
  relpath = f"mobilenet_imagenet/{stem}" + (
      "_dequant_float32.npz" if source == "npz" else ".tflite")
  file = assets.find_asset(relpath, path)
  loaded = _load_npz(file) if source == "npz" else _load_tflite(file, order)
  missing = [p for p in order if p not in loaded]
  if missing:
    raise ValueError(f"{file}: missing weights for layers {['/'.join(p) for p in missing]}.")
  flat = {}
  for p in order:
    for leaf in ("kernel", "bias"):
      want = shapes
      for k in p + (leaf,):
        want = want[k]
      got = loaded[p].get(leaf)
      if got is None or got.shape != want.shape:
        raise ValueError(f"{file}: {'/'.join(p)}/{leaf} has shape "
                         f"{None if got is None else got.shape}, expected {want.shape}.")
      flat[p + (leaf,)] = jnp.asarray(got)
  params = flax.traverse_util.unflatten_dict(flat)
  class_names = imagenet_class_names()
  meta = meta_lib.ModelMeta(name=name, input_shape=(size, size, 3), mean=(0.5, 0.5, 0.5),
                            std=(0.5, 0.5, 0.5), class_names=class_names, label_offset=1)
  return module, params, meta
