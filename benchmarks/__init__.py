"""Benchmarks of jaxviz against Captum/PyTorch (entry point: ``scripts/benchmark.py``).

This package module holds only what the request is validated against (cheap
to import, so bad flags fail fast): the method, model and implementation
names and their parsers. The work lives in submodules, imported explicitly:
:mod:`benchmarks.timing` (timing, the measured methods, the report) and
:mod:`benchmarks.torch_models` (the PyTorch twins of the jaxviz models;
needs the ``bench`` extra, ``pip install -e .[bench]``).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ("GRAD_CAM_LAYERS", "IMPLS", "METHODS", "MODELS", "TORCH_LAYOUTS", "parse_batch_sizes",
           "parse_methods", "parse_models")

METHODS = ("forward", "saliency", "guided_backprop", "grad_cam", "integrated_gradients",
           "top5_saliency")
MODELS = ("mobilenet_v2", "small_cnn")
IMPLS = ("jaxviz", "torch_nchw", "torch_channels_last")
TORCH_LAYOUTS = {"torch_nchw": "nchw", "torch_channels_last": "channels_last"}
# Grad-CAM layer of each model: its last conv layer (MobileNetV2: 7x7x1280).
GRAD_CAM_LAYERS = {"mobilenet_v2": "Conv_1", "small_cnn": "conv2"}


def _as_list(values: str | Iterable[Any]) -> list[str]:
  if isinstance(values, str):
    values = values.split(",")
  return [str(v).strip() for v in values if str(v).strip()]


def _dedupe(values: Iterable[Any]) -> tuple:
  return tuple(dict.fromkeys(values))


def _parse_names(values: str | Iterable[str], valid: tuple[str, ...], kind: str
                 ) -> tuple[str, ...]:
  names = _as_list(values)
  unknown = [n for n in names if n not in valid]
  if unknown or not names:
    what = f"Unknown {kind}(s) {unknown}" if unknown else f"No {kind} given"
    raise ValueError(f"{what}; valid {kind}s: {', '.join(valid)}.")
  return _dedupe(names)


def parse_methods(values: str | Iterable[str]) -> tuple[str, ...]:
  """Validated method names (comma-separated string or list), duplicates dropped.

  Raises:
    ValueError: no method, or an unknown one; the message lists the valid ones.
  """
  return _parse_names(values, METHODS, "method")


def parse_models(values: str | Iterable[str]) -> tuple[str, ...]:
  """Validated model names; the error lists the valid ones."""
  return _parse_names(values, MODELS, "model")


def parse_batch_sizes(values: str | Iterable[Any]) -> tuple[int, ...]:
  """Validated batch sizes: positive ints (``"8"`` or ``8``; not ``"1.5"``, ``0``, ``True``).

  Raises:
    ValueError: an empty list or a value that is not a positive int.
  """
  raw = _as_list(values) if isinstance(values, str) else list(values)
  if not raw:
    raise ValueError("No batch size given; pass positive ints, e.g. --batch_sizes=1,8,32.")
  sizes = []
  for value in raw:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (float, np.floating)):
      size = None
    elif isinstance(value, (int, np.integer)):
      size = int(value)
    else:
      text = str(value).strip()
      size = int(text) if text.lstrip("+-").isdigit() else None
    if size is None or size <= 0:
      raise ValueError(f"Invalid batch size {value!r}: batch sizes must be positive ints "
                       f"(e.g. 1,8,32); got {raw}.")
    sizes.append(size)
  return _dedupe(sizes)
