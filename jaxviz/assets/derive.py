"""Asset files computed locally from downloaded ones.

- :func:`mobilenet_npz`: the float32 weights of a quantized MobileNet
  ``.tflite`` (read by :mod:`jaxviz.models.tflite_reader`, each tensor
  dequantized as ``scale * (q - zero_point)``), saved as ``.npz`` with the
  graph's layer names (``MobilenetV2/expanded_conv_3/expand/kernel``).
- :func:`geirhos16_indices_json`: the 16-class -> ImageNet index lists of
  Geirhos et al. 2019 (https://arxiv.org/abs/1811.12231), read from the
  ``*_indices`` class attributes of the repository's ``human_categories.py``
  (parsed, never executed).
"""

from __future__ import annotations

import ast
import io
import json
import os
import pathlib

__all__ = ("geirhos16_indices_json", "mobilenet_npz", "npz_layer_name")


def npz_layer_name(tensor_name: str) -> str:
  """The layer name of a TFLite weight tensor.

  ``"MobilenetV1/MobilenetV1/Conv2d_0/Conv2D_Fold;..."`` -> ``"MobilenetV1/Conv2d_0"``;
  ``"MobilenetV2/expanded_conv_3/expand/Conv2D_Fold;..."`` ->
  ``"MobilenetV2/expanded_conv_3/expand"``: the first of the fused names,
  without its op and without a repeated leading scope.
  """
  parts = tensor_name.split(";")[0].split("/")[:-1]
  if len(parts) > 1 and parts[0] == parts[1]:
    parts = parts[1:]
  if not parts:
    raise ValueError(f"Cannot name the layer of TFLite tensor {tensor_name!r}.")
  return "/".join(parts)


def mobilenet_npz(tflite_path: str | os.PathLike) -> bytes:
  """The ``.npz`` bytes of a TFLite MobileNet's float32 conv weights.

  Keys ``<layer>/kernel`` (HWIO; depthwise [kh, kw, 1, C]) and ``<layer>/bias``
  in execution order.

  Raises:
    ValueError: the file is not a readable TFLite model, or two convs share a name.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jaxviz.models import tflite_reader  # pylint: disable=g-import-not-at-top

  arrays = {}
  for conv in tflite_reader.read_conv_weights(tflite_path):
    layer = npz_layer_name(conv.name)
    if f"{layer}/kernel" in arrays:
      raise ValueError(f"{tflite_path}: two conv ops are named {layer!r}.")
    arrays[f"{layer}/kernel"] = conv.kernel
    arrays[f"{layer}/bias"] = conv.bias
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **arrays)
  return buffer.getvalue()


def geirhos16_indices_json(source_path: str | os.PathLike) -> bytes:
  """``{"airplane": [404], ...}`` (sorted classes, 0-based ImageNet indices) as JSON bytes.

  Raises:
    ValueError: the source defines no ``HumanCategories`` class with 16
      ``<class>_indices`` lists of ints.
  """
  path = pathlib.Path(source_path)
  tree = ast.parse(path.read_text(), str(path))
  table = {}
  for node in ast.walk(tree):
    if isinstance(node, ast.ClassDef) and node.name == "HumanCategories":
      for statement in node.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id.endswith("_indices")):
          values = ast.literal_eval(statement.value)
          table[statement.targets[0].id.removesuffix("_indices")] = [int(v) for v in values]
  if len(table) != 16:
    raise ValueError(f"{path}: expected 16 '<class>_indices' lists in class HumanCategories, "
                     f"found {sorted(table)}.")
  return json.dumps(dict(sorted(table.items())), indent=1).encode()
