"""PyTorch twins of the jaxviz models, built from the very same Flax parameters.

Used by the benchmark (``scripts/benchmark.py``) to compare jaxviz with
Captum/PyTorch on identical networks and weights. Needs the ``bench`` extra
(``pip install -e .[bench]``: torch and captum).

* :class:`TorchMobileNetV2`: MobileNetV2 (https://arxiv.org/abs/1801.04381)
  in the TF-slim layout of :class:`jaxviz.models.mobilenet.MobileNetV2`, any
  width. TF ``SAME`` padding is reproduced exactly: a stride-2 conv on an even
  input pads one row/column at the bottom/right only (``F.pad`` before the
  conv), a stride-1 3x3 conv pads one on every side.
* :class:`TorchSmallCNN`: :class:`jaxviz.models.small_cnn.SmallCNN`.

Rectifiers are ``nn.ReLU`` modules, and MobileNet's ReLU6 is :class:`ReLU6`,
an ``nn.ReLU`` *subclass*: Captum's ``GuidedBackprop`` and ``Deconvolution``
hook only ``nn.ReLU`` instances, so on a model built with ``nn.ReLU6`` they
silently return the plain gradient.

Layer names are those of the Flax models (``"Conv_1"``,
``"expanded_conv_3/expand"``, ``"conv2"``, ...); :meth:`layer` returns the
module whose output is that layer's (activated) output, e.g. for Captum's
``LayerGradCam``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import flax.linen as nn_flax
import jax
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from jaxviz.models import fast_conv
from jaxviz.models import mobilenet
from jaxviz.models import small_cnn

LAYOUTS = ("nchw", "channels_last")


class ReLU6(nn.ReLU):
  """``clamp(x, 0, 6)`` as an ``nn.ReLU`` subclass, so Captum's rules hook it."""

  def forward(self, x: torch.Tensor) -> torch.Tensor:  # pylint: disable=arguments-renamed
    return torch.clamp(x, 0.0, 6.0)


def _activation(name: str) -> nn.Module:
  if name == "relu":
    return nn.ReLU()
  if name == "relu6":
    return ReLU6()
  if name == "none":
    return nn.Identity()
  raise ValueError(f"Unknown activation {name!r}; expected 'relu', 'relu6' or 'none'.")


def _tensor(array) -> torch.Tensor:
  return torch.from_numpy(np.array(jax.device_get(array), np.float32))


class ConvAct(nn.Module):
  """Conv (+ bias) + activation with TF ``SAME`` padding, from a Flax ``Conv``.

  Args:
    kernel: Flax kernel [kh, kw, I, O] (depthwise: [kh, kw, 1, C]).
    bias: [O].
    stride: spatial stride.
    activation: ``"relu"``, ``"relu6"`` or ``"none"``.
    depthwise: a depthwise conv (``groups = C``).
  """

  def __init__(self, kernel, bias, stride: int, activation: str, depthwise: bool = False):
    super().__init__()
    kh, kw, cin, cout = np.shape(kernel)
    groups = cout if depthwise else 1
    self.conv = nn.Conv2d(cin * groups, cout, (kh, kw), stride=stride, padding=0,
                          groups=groups, bias=True)
    with torch.no_grad():
      self.conv.weight.copy_(_tensor(kernel).permute(3, 2, 0, 1))
      self.conv.bias.copy_(_tensor(bias))
    self.act = _activation(activation)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    (kh, kw), (sh, sw) = self.conv.kernel_size, self.conv.stride
    top, bottom = fast_conv.same_padding(x.shape[-2], kh, sh)
    left, right = fast_conv.same_padding(x.shape[-1], kw, sw)
    if top == bottom and left == right:
      y = F.conv2d(x, self.conv.weight, self.conv.bias, self.conv.stride, (top, left),
                   groups=self.conv.groups)
    else:
      y = F.conv2d(F.pad(x, (left, right, top, bottom)), self.conv.weight, self.conv.bias,
                   self.conv.stride, 0, groups=self.conv.groups)
    return self.act(y)


class DenseAct(nn.Module):
  """Linear + activation from a Flax ``Dense`` (kernel [I, O], bias [O])."""

  def __init__(self, kernel, bias, activation: str):
    super().__init__()
    cin, cout = np.shape(kernel)
    self.linear = nn.Linear(cin, cout)
    with torch.no_grad():
      self.linear.weight.copy_(_tensor(kernel).T)
      self.linear.bias.copy_(_tensor(bias))
    self.act = _activation(activation)

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    return self.act(self.linear(x))


class _Twin(nn.Module):
  """Shared parts: named layers, input memory format, frozen parameters."""

  def __init__(self, layout: str):
    super().__init__()
    if layout not in LAYOUTS:
      raise ValueError(f"Unknown layout {layout!r}; expected one of {LAYOUTS}.")
    self.layout = layout
    self._names: dict[str, str] = {}

  def _name(self, flax_name: str, module_path: str) -> None:
    self._names[flax_name] = module_path

  def _finish(self) -> None:
    self.eval()
    for p in self.parameters():
      p.requires_grad_(False)  # Attribution needs input gradients only.
    if self.layout == "channels_last":
      self.to(memory_format=torch.channels_last)

  def layer_names(self) -> list[str]:
    """The Flax layer names this model exposes, in call order."""
    return list(self._names)

  def layer(self, name: str) -> nn.Module:
    """The module whose output is the Flax layer ``name``'s activated output."""
    if name not in self._names:
      raise ValueError(f"Unknown layer name {name!r}. Valid layer names: {self.layer_names()}.")
    return self.get_submodule(self._names[name])

  def _input(self, x: torch.Tensor) -> torch.Tensor:
    if self.layout == "channels_last":
      return x.contiguous(memory_format=torch.channels_last)  # No copy when it already is.
    return x


class TorchMobileNetV2(_Twin):
  """MobileNetV2 from the params of a :class:`jaxviz.models.mobilenet.MobileNetV2`.

  Input [B, 3, H, W] (NCHW, in [-1, 1]); output logits [B, num_logits].
  Layer names: ``Conv``, ``expanded_conv[_N]`` (block output) and
  ``expanded_conv[_N]/{expand,depthwise,project}``, ``Conv_1``, ``Logits``.
  """

  def __init__(self, params: Mapping[str, Any], layout: str = "nchw"):
    super().__init__(layout)
    strides = [s if i == 0 else 1 for _, _, n, s in mobilenet.V2_BLOCKS for i in range(n)]
    names = ["expanded_conv"] + [f"expanded_conv_{i}" for i in range(1, len(strides))]
    missing = [n for n in ["Conv", "Conv_1", "Logits"] + names if n not in params]
    if missing:
      raise ValueError(f"params are not those of a MobileNetV2: missing {missing}.")
    self.Conv = ConvAct(params["Conv"]["kernel"], params["Conv"]["bias"], 2, "relu6")
    self._name("Conv", "Conv")
    self.blocks = nn.ModuleDict()
    for name, stride in zip(names, strides):
      self.blocks[name] = _InvertedResidual(params[name], stride)
      for part in ("expand", "depthwise", "project"):
        if part in params[name]:
          self._name(f"{name}/{part}", f"blocks.{name}.{part}")
      self._name(name, f"blocks.{name}")
    self.Conv_1 = ConvAct(params["Conv_1"]["kernel"], params["Conv_1"]["bias"], 1, "relu6")
    self._name("Conv_1", "Conv_1")
    self.Logits = ConvAct(params["Logits"]["kernel"], params["Logits"]["bias"], 1, "none")
    self._name("Logits", "Logits")
    self._finish()

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    h = self.Conv(self._input(x))
    for block in self.blocks.values():
      h = block(h)
    h = self.Conv_1(h)
    h = torch.mean(h, dim=(2, 3), keepdim=True)
    return torch.flatten(self.Logits(h), 1)


class _InvertedResidual(nn.Module):
  """[expand 1x1] -> depthwise 3x3 -> project 1x1 (+ skip), as in jaxviz."""

  def __init__(self, params: Mapping[str, Any], stride: int):
    super().__init__()
    dw = params["depthwise"]
    self.expand = (ConvAct(params["expand"]["kernel"], params["expand"]["bias"], 1, "relu6")
                   if "expand" in params else None)
    self.depthwise = ConvAct(dw["kernel"], dw["bias"], stride, "relu6", depthwise=True)
    self.project = ConvAct(params["project"]["kernel"], params["project"]["bias"], 1, "none")
    cin = (np.shape(params["expand"]["kernel"])[2] if "expand" in params
           else np.shape(dw["kernel"])[3])
    self.residual = stride == 1 and cin == np.shape(params["project"]["kernel"])[3]

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    h = x if self.expand is None else self.expand(x)
    h = self.project(self.depthwise(h))
    return h + x if self.residual else h


class TorchSmallCNN(_Twin):
  """:class:`jaxviz.models.small_cnn.SmallCNN` from its params.

  Input [B, C, 28, 28] in [0, 1]; output logits [B, num_classes]. Layer
  names: ``conv1``, ``pool1``, ``conv2``, ``pool2``, ``fc1``, ``logits``. The
  ``fc1`` weights are permuted once so that flattening NCHW features gives
  the Flax (NHWC-flattened) result.
  """

  def __init__(self, params: Mapping[str, Any], layout: str = "nchw"):
    super().__init__(layout)
    self.conv1 = ConvAct(params["conv1"]["kernel"], params["conv1"]["bias"], 1, "relu")
    self.pool1 = nn.MaxPool2d(2)
    self.conv2 = ConvAct(params["conv2"]["kernel"], params["conv2"]["bias"], 1, "relu")
    self.pool2 = nn.MaxPool2d(2)
    channels = np.shape(params["conv2"]["kernel"])[3]
    kernel = np.asarray(jax.device_get(params["fc1"]["kernel"]))
    side = math.isqrt(kernel.shape[0] // channels)
    if side * side * channels != kernel.shape[0]:
      raise ValueError(f"fc1 kernel {kernel.shape} does not match square {channels}-channel "
                       "features.")
    kernel = kernel.reshape(side, side, channels, -1).transpose(2, 0, 1, 3).reshape(
        kernel.shape[0], -1)
    self.fc1 = DenseAct(kernel, params["fc1"]["bias"], "relu")
    self.logits = DenseAct(params["logits"]["kernel"], params["logits"]["bias"], "none")
    for name in ("conv1", "pool1", "conv2", "pool2", "fc1", "logits"):
      self._name(name, name)
    self._finish()

  def forward(self, x: torch.Tensor) -> torch.Tensor:
    h = self.pool1(self.conv1(self._input(x)))
    h = self.pool2(self.conv2(h))
    return self.logits(self.fc1(torch.flatten(h, 1)))


def from_flax(model: nn_flax.Module, params: Mapping[str, Any], layout: str = "nchw") -> _Twin:
  """The PyTorch twin of a jaxviz Flax model with the same weights.

  Args:
    model: a :class:`~jaxviz.models.mobilenet.MobileNetV2` or
      :class:`~jaxviz.models.small_cnn.SmallCNN`.
    params: its ``params`` dict.
    layout: ``"nchw"`` or ``"channels_last"`` (the module and its inputs are
      converted to ``torch.channels_last``).

  Returns:
    An ``nn.Module`` in eval mode with frozen parameters, input [B, C, H, W].

  Raises:
    ValueError: an unsupported model, unknown layout or mismatching params.
  """
  if isinstance(model, mobilenet.MobileNetV2):
    return TorchMobileNetV2(params, layout)
  if isinstance(model, small_cnn.SmallCNN):
    return TorchSmallCNN(params, layout)
  raise ValueError(f"No PyTorch twin for {type(model).__name__}; supported: MobileNetV2, "
                   "SmallCNN.")


def to_torch(x_nhwc, layout: str = "nchw") -> torch.Tensor:
  """NHWC float images [B, H, W, C] -> a torch tensor [B, C, H, W] in ``layout``.

  ``"channels_last"`` is a zero-copy view of the NHWC data (which is exactly
  the channels-last memory format); ``"nchw"`` is a contiguous copy.
  """
  if layout not in LAYOUTS:
    raise ValueError(f"Unknown layout {layout!r}; expected one of {LAYOUTS}.")
  t = torch.from_numpy(np.ascontiguousarray(jax.device_get(x_nhwc), np.float32))
  t = t.permute(0, 3, 1, 2)
  return t.contiguous() if layout == "nchw" else t


def max_logit_difference(jax_fn, torch_model: nn.Module, x_nhwc, layout: str = "nchw") -> float:
  """``max |jax_fn(x) - torch_model(x)|`` over a batch [B, H, W, C]."""
  want = np.asarray(jax_fn(x_nhwc))
  with torch.inference_mode():
    got = torch_model(to_torch(x_nhwc, layout)).numpy()
  if got.shape != want.shape:
    raise ValueError(f"Logit shapes differ: jaxviz {want.shape}, torch {got.shape}.")
  return float(np.max(np.abs(got - want)))


def check_equivalence(jax_fn, torch_model: nn.Module, x_nhwc, layout: str = "nchw",
                      tol: float = 1e-3) -> float:
  """Raises RuntimeError unless the torch twin reproduces the jaxviz logits within ``tol``.

  Returns:
    The max abs logit difference.
  """
  diff = max_logit_difference(jax_fn, torch_model, x_nhwc, layout)
  if not diff < tol:
    raise RuntimeError(f"The PyTorch model ({layout}) does not reproduce the jaxviz logits: "
                       f"max abs difference {diff:.3g} >= {tol:g}. The benchmark would compare "
                       "different networks; aborting.")
  return diff
