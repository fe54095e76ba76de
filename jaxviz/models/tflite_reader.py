"""Reads conv weights out of a quantized TFLite flatbuffer (no TF runtime).

Uses the PyPI ``tflite`` package (pure-Python flatbuffer bindings). Every
quantized tensor is dequantized as ``scale * (q - zero_point)``. BatchNorm is
already folded into the biases of these graphs.
"""

from __future__ import annotations

import dataclasses
import pathlib
import struct

import numpy as np

__all__ = ("ConvWeights", "read_conv_weights")

_CONV_2D = 3
_DEPTHWISE_CONV_2D = 4
# tflite.TensorType values.
_DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}


@dataclasses.dataclass(frozen=True)
class ConvWeights:
  """One conv op of the graph, in execution order.

  Attributes:
    kind: ``"conv"`` or ``"depthwise"``.
    name: the weight tensor's name in the graph.
    kernel: float32 HWIO kernel ([kh, kw, I, O]; depthwise [kh, kw, 1, C]).
    bias: float32 [O].
    stride: the op's stride (height).
  """

  kind: str
  name: str
  kernel: np.ndarray
  bias: np.ndarray
  stride: int


def _dequantize(model, graph, index: int, path: pathlib.Path) -> tuple[np.ndarray, str]:
  tensor = graph.Tensors(index)
  name = tensor.Name().decode()
  dtype = _DTYPES.get(tensor.Type())
  if dtype is None:
    raise ValueError(f"{path}: tensor {name!r} has unsupported TFLite type {tensor.Type()}.")
  raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
  shape = tuple(int(s) for s in tensor.ShapeAsNumpy())
  if not isinstance(raw, np.ndarray) or raw.size != int(np.prod(shape)) * np.dtype(dtype).itemsize:
    raise ValueError(f"{path}: tensor {name!r} has no or truncated data (expected shape {shape}).")
  values = raw.view(dtype).reshape(shape)
  quant = tensor.Quantization()
  if dtype == np.float32 or quant is None or quant.ScaleLength() == 0:
    return values.astype(np.float32), name
  scale = quant.ScaleAsNumpy().astype(np.float64)
  zero = quant.ZeroPointAsNumpy().astype(np.float64)
  if scale.size != 1:
    raise ValueError(f"{path}: tensor {name!r} is per-channel quantized; only per-tensor "
                     "quantization is supported.")
  return (scale * (values.astype(np.float64) - zero)).astype(np.float32), name


def read_conv_weights(path: str | pathlib.Path) -> list[ConvWeights]:
  """Returns the dequantized conv and depthwise-conv weights in execution order.

  Args:
    path: a ``.tflite`` file.

  Raises:
    ValueError: the file is not a readable TFLite flatbuffer.
  """
  import tflite  # pylint: disable=g-import-not-at-top

  path = pathlib.Path(path)
  buf = path.read_bytes()
  if len(buf) < 8 or buf[4:8] != b"TFL3":
    raise ValueError(f"{path} is not a TFLite flatbuffer (missing 'TFL3' identifier); "
                     "the file is corrupt or not a .tflite model.")
  try:
    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    out = []
    for i in range(graph.OperatorsLength()):
      op = graph.Operators(i)
      code = model.OperatorCodes(op.OpcodeIndex())
      builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
      if builtin not in (_CONV_2D, _DEPTHWISE_CONV_2D):
        continue
      inputs = op.InputsAsNumpy()
      kernel, name = _dequantize(model, graph, int(inputs[1]), path)
      bias, _ = _dequantize(model, graph, int(inputs[2]), path)
      if builtin == _CONV_2D:
        opts = tflite.Conv2DOptions()
        kind, kernel = "conv", kernel.transpose(1, 2, 3, 0)  # OHWI -> HWIO
      else:
        opts = tflite.DepthwiseConv2DOptions()
        kind, kernel = "depthwise", kernel.transpose(1, 2, 0, 3)  # 1HWC -> HW1C
      table = op.BuiltinOptions()
      opts.Init(table.Bytes, table.Pos)
      out.append(ConvWeights(kind, name, kernel, bias, int(opts.StrideH())))
  except (IndexError, AttributeError, TypeError, struct.error) as e:
    raise ValueError(f"{path}: could not parse the TFLite flatbuffer ({e!r}); the file is "
                     "probably truncated or corrupt.") from e
  return out
