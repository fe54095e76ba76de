"""VGG16 and VGG19 (torchvision layout) in Flax, with a safetensors loader.

Paper: Simonyan & Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", https://arxiv.org/abs/1409.1556 .

The network is torchvision's ``vgg16`` / ``vgg19`` (configurations D and E,
no batch norm): 3x3 convs (stride 1, padding 1) with ReLU, 2x2 max-pools with
stride 2, ``AdaptiveAvgPool2d((7, 7))``, then fc6 4096 ReLU, fc7 4096 ReLU,
fc8 ``num_classes``. Dropout is the identity at inference and is omitted.

Layer names (the Flax module paths, each meaning that layer's output):
``conv1_1, conv1_2, pool1, conv2_1, conv2_2, pool2, conv3_1 .. conv3_3
(conv3_4 for VGG19), pool3, conv4_*, pool4, conv5_*, pool5, avgpool, fc6, fc7,
fc8``. Conv and fc6/fc7 outputs are post-ReLU; fc8 gives the logits.

Flatten order: the model flattens the ``[B, 7, 7, C]`` map in its natural
NHWC order, so ``fc6.kernel`` has rows in ``(H, W, C)`` order and
``kernel.reshape(7, 7, C, 4096)`` is the equivalent HWIO conv kernel. PyTorch
flattens in ``(C, H, W)`` order; :func:`load_vgg_safetensors` permutes the
first classifier weight accordingly at load time.
"""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import safetensors
from safetensors import safe_open

from jaxviz import assets
from jaxviz.models import init
from jaxviz.models import layers
from jaxviz.models import pooling
from jaxviz.models.meta import ModelMeta

__all__ = ("adaptive_avg_pool2d", "AdaptiveAvgPool", "CFGS", "HIDDEN", "IMAGENET_MEAN",
           "IMAGENET_STD", "LABELS_ASSET", "layer_names", "load_vgg_safetensors", "MIN_INPUT",
           "POOL_SIZE", "VGG", "vgg_builder")

# torchvision's `cfgs`: output channels of each 3x3 conv, "M" for a max-pool.
CFGS: dict[int, tuple[int | str, ...]] = {
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512,
         "M", 512, 512, 512, 512, "M"),
}
HIDDEN = 4096
POOL_SIZE = (7, 7)
MIN_INPUT = 32  # Five 2x2 max-pools need at least 32x32 inputs.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LABELS_ASSET = "mobilenet_imagenet/imagenet_labels_1001.txt"
_FLOAT_DTYPES = ("F16", "F32", "F64")

_log = logging.getLogger(__name__)


def _check_depth(depth: int) -> None:
  if depth not in CFGS:
    raise ValueError(f"VGG depth must be one of {sorted(CFGS)}, got {depth!r}.")


def _check_width(width: float) -> None:
  if not width > 0:
    raise ValueError(f"VGG width multiplier must be > 0, got {width!r}.")


def _scaled(channels: int, width: float) -> int:
  return max(1, int(round(channels * width)))


def _conv_plan(depth: int) -> list[tuple[str, int | None, int]]:
  """``(layer name, base channels or None for a pool, torchvision index)``."""
  _check_depth(depth)
  plan, block, conv, index = [], 1, 1, 0
  for v in CFGS[depth]:
    if v == "M":
      plan.append((f"pool{block}", None, index))
      block, conv, index = block + 1, 1, index + 1
    else:
      plan.append((f"conv{block}_{conv}", v, index))
      conv, index = conv + 1, index + 2  # Conv2d then ReLU.
  return plan


def layer_names(depth: int) -> tuple[str, ...]:
  """Names of every layer of VGG``depth`` in forward order.

  Args:
    depth: 16 or 19.

  Returns:
    ``("conv1_1", "conv1_2", "pool1", ..., "pool5", "avgpool", "fc6", "fc7",
    "fc8")``; each is a Flax module path whose output is that layer's
    activations.
  """
  return tuple(name for name, _, _ in _conv_plan(depth)) + ("avgpool", "fc6", "fc7", "fc8")


def _bin_matrix(size: int, out: int) -> np.ndarray:
  """[out, size] averaging matrix of PyTorch's adaptive average pooling."""
  mat = np.zeros((out, size), np.float32)
  for i in range(out):
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)  # ceil((i + 1) * size / out)
    mat[i, start:end] = 1.0 / (end - start)
  return mat


def adaptive_avg_pool2d(x: jax.typing.ArrayLike,
                        output_size: tuple[int, int] = POOL_SIZE) -> jax.Array:
  """PyTorch's ``adaptive_avg_pool2d`` for NHWC inputs, any input size.

  Output cell ``(i, j)`` is the mean of input rows
  ``floor(i*H/oh) .. ceil((i+1)*H/oh) - 1`` and the matching columns, exactly
  as ``torch.nn.AdaptiveAvgPool2d`` (so inputs smaller than the output are
  repeated, and an input already of the output size is returned unchanged).

  Args:
    x: [B, H, W, C] feature map.
    output_size: ``(oh, ow)``, both >= 1.

  Returns:
    [B, oh, ow, C] pooled map.
  """
  x = jnp.asarray(x)
  if x.ndim != 4:
    raise ValueError(f"adaptive_avg_pool2d expects [B, H, W, C], got shape {x.shape}.")
  oh, ow = output_size
  if oh < 1 or ow < 1:
    raise ValueError(f"output_size must be positive, got {output_size}.")
  h, w = x.shape[1], x.shape[2]
  if h < 1 or w < 1:
    raise ValueError(f"adaptive_avg_pool2d needs a non-empty map, got shape {x.shape}.")
  if (h, w) == (oh, ow):
    return x
  ph = jnp.asarray(_bin_matrix(h, oh), x.dtype)
  pw = jnp.asarray(_bin_matrix(w, ow), x.dtype)
  return jnp.einsum("oh,pw,bhwc->bopc", ph, pw, x, precision=jax.lax.Precision.HIGHEST)


class AdaptiveAvgPool(nn.Module):
  """:func:`adaptive_avg_pool2d` to ``output_size`` as a named layer."""

  output_size: tuple[int, int] = POOL_SIZE

  @nn.compact
  def __call__(self, x):
    return adaptive_avg_pool2d(x, self.output_size)


class VGG(nn.Module):
  """VGG16/19 classifier. Input [B, H, W, 3] ImageNet-normalised; output [B, num_classes].

  Any input with H, W >= 32 works; the adaptive pool maps the pool5 output to
  7x7 as torchvision does (identity for 224x224 inputs).

  Attributes:
    depth: 16 or 19.
    num_classes: size of fc8 (1000 for ImageNet).
    width: multiplier of every conv's channels and of the fc6/fc7 size
      (1.0 for the published weights; smaller values make test-sized nets).
    impl: convolution implementation (see :mod:`jaxviz.models.conv_ops`).
  """

  depth: int = 16
  num_classes: int = 1000
  width: float = 1.0
  impl: str = "auto"

  @nn.compact
  def __call__(self, x):
    _check_depth(self.depth)
    _check_width(self.width)
    if x.ndim != 4 or x.shape[1] < MIN_INPUT or x.shape[2] < MIN_INPUT:
      raise ValueError(f"VGG expects inputs [B, H, W, C] with H, W >= {MIN_INPUT} "
                       f"(five 2x2 max-pools), got shape {x.shape}.")
    h = x
    for name, channels, _ in _conv_plan(self.depth):
      if channels is None:
        h = pooling.MaxPool(impl=self.impl, name=name)(h)
      else:
        h = layers.Conv(_scaled(channels, self.width), 3, 1, activation="relu",
                        padding="SAME", impl=self.impl, name=name)(h)
    h = AdaptiveAvgPool(POOL_SIZE, name="avgpool")(h)
    h = h.reshape(h.shape[0], -1)  # (H, W, C) order; see the module docstring.
    hidden = _scaled(HIDDEN, self.width)
    h = layers.Dense(hidden, activation="relu", name="fc6")(h)
    h = layers.Dense(hidden, activation="relu", name="fc7")(h)
    return layers.Dense(self.num_classes, activation="none", name="fc8")(h)


def _class_names(num_classes: int) -> tuple[str, ...]:
  """The 1000 ImageNet names (torchvision order) or ``class_<i>`` placeholders."""
  if num_classes == 1000:
    try:
      path = assets.find_asset(LABELS_ASSET)
    except assets.AssetNotFoundError as e:
      _log.warning("ImageNet class names unavailable, using class_<i>: %s", e)
    else:
      lines = [l.strip() for l in path.read_text().splitlines() if l.strip()]
      if len(lines) == 1001 and lines[0] == "background":
        return tuple(lines[1:])
      _log.warning("%s does not hold 'background' + 1000 names; using class_<i>.", path)
  return tuple(f"class_{i}" for i in range(num_classes))


def _meta(depth: int, num_classes: int) -> ModelMeta:
  return ModelMeta(name=f"vgg{depth}", input_shape=(224, 224, 3), mean=IMAGENET_MEAN,
                   std=IMAGENET_STD, class_names=_class_names(num_classes), label_offset=0)


def vgg_builder(depth: int, *, num_classes: int = 1000, width: float = 1.0, seed: int = 0,
                impl: str = "auto") -> tuple[VGG, dict[str, Any], ModelMeta]:
  """A VGG with random parameters: He-normal kernels, zero biases.

  He-normal (std ``sqrt(2 / fan_in)``) keeps ReLU activations O(1) through all
  layers; the parameters are drawn with numpy (:func:`jaxviz.models.init.random_params`),
  which takes a fraction of the time compiling ``model.init`` takes on CPU.

  Args:
    depth: 16 or 19.
    num_classes: size of fc8.
    width: channel multiplier (see :class:`VGG`).
    seed: seed of the draw.
    impl: convolution implementation.

  Returns:
    ``(model, params, meta)`` as :func:`load_vgg_safetensors` returns them.
  """
  _check_depth(depth)
  _check_width(width)
  model = VGG(depth=depth, num_classes=num_classes, width=width, impl=impl)
  params = init.random_params(model, (1, 224, 224, 3), seed=seed, kernel_gain=np.sqrt(2.0),
                              bias_std=0.0)
  return model, params, _meta(depth, num_classes)


# ---------------------------------------------------------------- loading


def _conv_weight(w: np.ndarray) -> np.ndarray:
  return w.transpose(2, 3, 1, 0)  # OIHW -> HWIO


def _fc6_weight(w: np.ndarray) -> np.ndarray:
  """torch [O, C*7*7] ((C, H, W) order) or timm [O, C, 7, 7] -> [7*7*C, O] (H, W, C)."""
  out = w.shape[0]
  w = w.reshape(out, -1, *POOL_SIZE)
  return w.transpose(2, 3, 1, 0).reshape(-1, out)


def _fc_weight(w: np.ndarray) -> np.ndarray:
  return w.reshape(w.shape[0], -1).T  # [O, I] or [O, I, 1, 1] -> [I, O]


def _vector(w: np.ndarray) -> np.ndarray:
  return w


def _expected(depth: int, width: float, num_classes: int, layout: str):
  """torch key -> (Flax layer, Flax param, torch shape, converter)."""
  spec = {}
  in_ch = 3
  for name, channels, index in _conv_plan(depth):
    if channels is None:
      continue
    out_ch = _scaled(channels, width)
    spec[f"features.{index}.weight"] = (name, "kernel", (out_ch, in_ch, 3, 3), _conv_weight)
    spec[f"features.{index}.bias"] = (name, "bias", (out_ch,), _vector)
    in_ch = out_ch
  hidden = _scaled(HIDDEN, width)
  flat = in_ch * POOL_SIZE[0] * POOL_SIZE[1]
  if layout == "torchvision":
    fc = {"fc6": ("classifier.0", (hidden, flat)), "fc7": ("classifier.3", (hidden, hidden)),
          "fc8": ("classifier.6", (num_classes, hidden))}
  else:  # timm: fc6/fc7 stored as 7x7 and 1x1 convs.
    fc = {"fc6": ("pre_logits.fc1", (hidden, in_ch) + POOL_SIZE),
          "fc7": ("pre_logits.fc2", (hidden, hidden, 1, 1)),
          "fc8": ("head.fc", (num_classes, hidden))}
  for name, (prefix, shape) in fc.items():
    spec[f"{prefix}.weight"] = (name, "kernel", shape,
                                _fc6_weight if name == "fc6" else _fc_weight)
    spec[f"{prefix}.bias"] = (name, "bias", shape[:1], _vector)
  return spec


def _missing_weights_error(path: pathlib.Path | str, depth: int) -> assets.AssetNotFoundError:
  return assets.AssetNotFoundError(
      f"VGG{depth} weights {str(path)!r} not found. Get them as safetensors: either "
      f"torchvision's vgg{depth}-{'397923af' if depth == 16 else 'dcbb9e9d'}.pth "
      f"(https://download.pytorch.org/models/) converted with "
      f"safetensors.torch.save_file(torch.load(pth), 'vgg{depth}.safetensors'), or "
      f"timm's 'vgg{depth}.tv_in1k' model.safetensors from the Hugging Face hub "
      f"(https://huggingface.co/timm/vgg{depth}.tv_in1k). Pass the file's path, or put "
      f"it at vgg/vgg{depth}.safetensors under $JAXVIZ_DATA_DIR.")


def load_vgg_safetensors(path: str | os.PathLike | None, depth: int, *,
                         num_classes: int | None = None, width: float = 1.0,
                         impl: str = "auto") -> tuple[VGG, dict[str, Any], ModelMeta]:
  """Loads torchvision- or timm-layout VGG weights from a safetensors file.

  Keys accepted (layout detected from the names):
    * torchvision ``vgg16``/``vgg19``: ``features.{i}.weight|bias`` (OIHW),
      ``classifier.{0,3,6}.weight|bias`` ([out, in]; ``classifier.0`` flattens
      (C, H, W)).
    * timm ``vgg16.tv_in1k``/``vgg19.tv_in1k``: the same ``features.*``,
      ``pre_logits.fc1.weight`` [4096, 512, 7, 7], ``pre_logits.fc2.weight``
      [4096, 4096, 1, 1], ``head.fc.weight`` [num_classes, 4096] and biases.

  Conv kernels become HWIO, linear weights [in, out], and fc6's rows are
  permuted from (C, H, W) to the model's (H, W, C) order. timm's VGG runs fc6
  as a 7x7 conv followed by global average pooling instead of torchvision's
  adaptive pool + flatten; both give identical logits at 224x224, and the
  returned model always follows torchvision.

  Args:
    path: the ``.safetensors`` file; None looks for
      ``vgg/vgg{depth}.safetensors`` under ``$JAXVIZ_DATA_DIR`` and the cache.
    depth: 16 or 19.
    num_classes: size of fc8; None reads it from the file.
    width: channel multiplier the file was saved with (1.0 for published weights).
    impl: convolution implementation.

  Returns:
    ``(model, params, meta)``: a :class:`VGG`, its Flax params and a
    :class:`~jaxviz.models.meta.ModelMeta` (224x224x3, ImageNet mean/std on
    pixels/255, ImageNet class names when ``num_classes == 1000``).

  Raises:
    AssetNotFoundError: the file does not exist (the message says where to get it).
    ValueError: the file is not a readable safetensors file, or its keys,
      shapes or dtypes do not match VGG``depth`` (the message lists them).
  """
  _check_depth(depth)
  _check_width(width)
  if path is None:
    relpath = f"vgg/vgg{depth}.safetensors"
    try:
      path = assets.find_asset(relpath)
    except assets.AssetNotFoundError:
      raise _missing_weights_error(relpath, depth) from None
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise _missing_weights_error(path, depth)

  try:
    with safe_open(str(path), framework="numpy") as f:
      header = {k: (tuple(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype())
                for k in f.keys()}
      layout = ("timm" if "pre_logits.fc1.weight" in header else
                "torchvision" if "classifier.0.weight" in header else None)
      if layout is None:
        raise ValueError(
            f"{path}: unknown VGG checkpoint layout; expected torchvision keys "
            f"('features.*', 'classifier.{{0,3,6}}.*') or timm keys ('features.*', "
            f"'pre_logits.fc1.*', 'pre_logits.fc2.*', 'head.fc.*'). Found keys: "
            f"{sorted(header)[:20]}{' ...' if len(header) > 20 else ''}")
      if num_classes is None:
        head = "head.fc.weight" if layout == "timm" else "classifier.6.weight"
        num_classes = header[head][0][0] if head in header else 1000
      spec = _expected(depth, width, num_classes, layout)
      problems = []
      missing = sorted(set(spec) - set(header))
      if missing:
        problems.append(f"missing keys {missing}")
      unexpected = sorted(set(header) - set(spec))
      if unexpected:
        problems.append(f"unexpected keys {unexpected}")
      bad_shapes = [f"{k}: {header[k][0]} (expected {spec[k][2]})"
                    for k in sorted(set(spec) & set(header)) if header[k][0] != spec[k][2]]
      if bad_shapes:
        problems.append(f"wrong shapes [{'; '.join(bad_shapes)}]")
      bad_dtypes = [f"{k}: {dt}" for k, (_, dt) in sorted(header.items())
                    if k in spec and dt not in _FLOAT_DTYPES]
      if bad_dtypes:
        problems.append(f"unsupported dtypes (need one of {_FLOAT_DTYPES}) {bad_dtypes}")
      if problems:
        raise ValueError(f"{path} does not hold {layout}-layout VGG{depth} weights "
                         f"(width={width}, num_classes={num_classes}): "
                         + "; ".join(problems))
      params: dict[str, dict[str, jax.Array]] = {}
      for key, (layer, param, _, convert) in spec.items():
        value = convert(f.get_tensor(key).astype(np.float32))
        params.setdefault(layer, {})[param] = jnp.asarray(value)
  except safetensors.SafetensorError as e:
    raise ValueError(f"{path} is not a valid safetensors file (corrupt or truncated?): "
                     f"{e}") from e
  model = VGG(depth=depth, num_classes=num_classes, width=width, impl=impl)
  return model, params, _meta(depth, num_classes)
