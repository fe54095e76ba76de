"""Top-activating inputs and their receptive-field patches.

Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks",
https://arxiv.org/abs/1311.2901: for a channel of a conv layer, the dataset
images whose strongest response (max over space) in that channel is largest,
and the input patch that the strongest unit sees.

The search is one pass over the dataset with
:func:`jaxviz.sharding.map_batches` (fixed-size batches sharded over the
devices, one compiled program): a module-level jitted function gives each
image's max-over-space and its spatial argmax for the chosen channels, and
the top k per channel are picked on the host from those ``[N, C]`` arrays
(a few numbers per image, so memory grows only by ``8 * N * C`` bytes).

Receptive fields are measured, not derived from the architecture: the
non-zero support of the gradient of a unit with respect to the input is the
set of input pixels that unit depends on. This works for any model (padding,
strides, pooling, dilations, branches) without knowing its modules.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import sharding
from jaxviz import validation
from jaxviz.inspect import features
from jaxviz.models import taps

__all__ = ("crop_patch", "gradient_support", "receptive_field", "ReceptiveField",
           "top_activating_inputs", "TopActivations")


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
  """Where a conv layer's units look in the input (all in input pixels).

  Unit ``(i, j)`` of the layer depends on input rows
  ``[offset[0] + i * stride[0], offset[0] + i * stride[0] + size[0])`` and the
  matching columns. Negative offsets (and ends past the image) are the
  layer's zero padding.

  Attributes:
    size: ``(height, width)`` of the field.
    stride: ``(rows, cols)`` the field moves per unit step.
    offset: input ``(row, col)`` of the top-left corner of unit (0, 0)'s field.
  """

  size: tuple[int, int]
  stride: tuple[int, int]
  offset: tuple[int, int]

  def box(self, i: int, j: int) -> tuple[int, int, int, int]:
    """Field of unit (i, j) as ``(top, left, bottom, right)``, end-exclusive, unclipped."""
    top = self.offset[0] + int(i) * self.stride[0]
    left = self.offset[1] + int(j) * self.stride[1]
    return top, left, top + self.size[0], left + self.size[1]


def _spatial_output_shape(model: nn.Module, variables, input_shape, layer: str):
  taps.check_layer_names(model, variables, input_shape, [layer])
  fn = taps.flax_layer_fn(model, variables, layer)
  out = jax.eval_shape(lambda x: fn(x)[1], jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))
  if len(out.shape) != 4:
    raise ValueError(
        f"Layer {layer!r} outputs shape {tuple(out.shape)}, not a spatial map [B, H, W, C]; "
        "receptive fields and top-activating patches need a conv (or pooling) layer.")
  return out.shape


@functools.partial(jax.jit, static_argnames=("model", "layer"))
def _support(model: nn.Module, variables, probes: jax.Array, units: jax.Array,
             layer: str) -> jax.Array:
  """bool [U, H, W]: where d(sum_c act[:, i, j, c]) / d(probes) != 0, per unit (i, j)."""
  fn = taps.flax_layer_fn(model, variables, layer)

  def one(unit):
    grad = jax.grad(lambda x: jnp.sum(fn(x)[1][:, unit[0], unit[1], :]))(probes)
    return jnp.any(grad != 0, axis=(0, 3))

  return jax.vmap(one)(units)


def gradient_support(model: nn.Module, variables, layer: str, input_shape: Sequence[int],
                     units: Sequence[tuple[int, int]], *, key: jax.Array,
                     num_probes: int = 4) -> np.ndarray:
  """Input pixels that the layer's units at the given positions depend on.

  For each unit ``(i, j)``: the gradient of the sum over channels of
  ``act[:, i, j, :]`` with respect to ``num_probes`` random normal inputs; a
  pixel is in the support when any probe's gradient there is non-zero in any
  input channel. One random input can miss pixels behind a dead ReLU or a
  non-maximal pooling input; the union over channels and probes makes that
  vanishingly unlikely, and a pixel outside the field never has a non-zero
  gradient.

  Args:
    model: a Flax linen model.
    variables: ``{"params": params}``.
    layer: a layer with spatial output [B, h, w, c].
    input_shape: one input's ``(H, W, C)``.
    units: ``(i, j)`` positions in the layer's grid.
    key: PRNG key for the probe inputs.
    num_probes: number of random inputs.

  Returns:
    bool [U, H, W]: True where unit u's output depends on the input pixel.
  """
  shape = (int(num_probes),) + tuple(int(s) for s in input_shape)
  _, h, w, _ = _spatial_output_shape(model, variables, shape, layer)
  units = np.asarray(units, np.int32).reshape(-1, 2)
  outside = [tuple(u) for u in units.tolist() if not (0 <= u[0] < h and 0 <= u[1] < w)]
  if outside:
    raise ValueError(f"units {outside} are outside layer {layer!r}'s {h}x{w} grid.")
  probes = jax.random.normal(key, shape, jnp.float32)
  return np.asarray(_support(model, variables, probes, jnp.asarray(units), layer))


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
  rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
  if not len(rows):
    raise ValueError("The probed unit has zero gradient everywhere: it does not depend on the "
                     "input (constant or dead unit); no receptive field can be measured.")
  return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def receptive_field(model: nn.Module, variables, layer: str, input_shape: Sequence[int], *,
                    key: jax.Array | None = None, num_probes: int = 4) -> ReceptiveField:
  """Measures a conv layer's receptive field by gradient-support probes.

  Probes the centre unit ``(h // 2, w // 2)`` and its diagonal neighbour
  ``(h // 2 - 1, w // 2 - 1)`` (see :func:`gradient_support`): the size is
  the centre support's bounding box, the stride the shift between the two
  boxes, and the offset the centre box moved back to unit (0, 0).

  Args:
    model: a Flax linen model.
    variables: ``{"params": params}``.
    layer: a layer with spatial output [B, h, w, c], h and w >= 2.
    input_shape: one input's ``(H, W, C)``.
    key: PRNG key for the probes (default ``jax.random.key(0)``).
    num_probes: random inputs per probed unit.

  Returns:
    The layer's :class:`ReceptiveField`.

  Raises:
    ValueError: unknown layer (lists the valid ones), a non-spatial layer, a
      grid smaller than 2x2, or a field that reaches the image border from
      the centre unit (larger than the input, so it cannot be measured on
      it; use a shallower layer).
  """
  key = jax.random.key(0) if key is None else key
  input_shape = tuple(int(s) for s in input_shape)
  _, h, w, _ = _spatial_output_shape(model, variables, (1,) + input_shape, layer)
  if h < 2 or w < 2:
    raise ValueError(f"Layer {layer!r} has a {h}x{w} grid; a receptive-field stride needs at "
                     "least 2x2 units.")
  i, j = h // 2, w // 2
  supports = gradient_support(model, variables, layer, input_shape, [(i, j), (i - 1, j - 1)],
                              key=key, num_probes=num_probes)
  boxes = [_bounds(m) for m in supports]
  box = boxes[0]
  height, width = input_shape[:2]
  if box[0] == 0 or box[1] == 0 or box[2] == height or box[3] == width:
    raise ValueError(
        f"The receptive field of layer {layer!r} reaches the border of the {height}x{width} "
        f"input from its centre unit (support rows {box[0]}:{box[2]}, cols {box[1]}:{box[3]}): "
        "it is at least as large as the image and cannot be measured on it. Use a shallower "
        "layer.")
  stride = (box[0] - boxes[1][0], box[1] - boxes[1][1])
  size = (box[2] - box[0], box[3] - box[1])
  offset = (box[0] - i * stride[0], box[1] - j * stride[1])
  return ReceptiveField(size=size, stride=stride, offset=offset)


def crop_patch(image: np.ndarray, box: tuple[int, int, int, int], fill=0) -> np.ndarray:
  """``image[top:bottom, left:right]`` of an [H, W, C] image; outside pixels = ``fill``.

  Returns:
    [bottom - top, right - left, C], same dtype as ``image``.
  """
  top, left, bottom, right = (int(b) for b in box)
  out = np.full((bottom - top, right - left) + image.shape[2:], fill, image.dtype)
  t, l = max(top, 0), max(left, 0)
  b, r = min(bottom, image.shape[0]), min(right, image.shape[1])
  if b > t and r > l:
    out[t - top:b - top, l - left:r - left] = image[t:b, l:r]
  return out


@dataclasses.dataclass(frozen=True)
class TopActivations:
  """The top-k inputs of each chosen channel (rows: channels, most active first).

  Attributes:
    layer: the layer name.
    channels: int [C], the channel indices searched.
    values: float32 [C, k], the max-over-space activation.
    image_indices: int [C, k], index into the dataset.
    positions: int [C, k, 2], ``(row, col)`` of the max in the layer's grid.
    boxes: int [C, k, 4], the unit's receptive field ``(top, left, bottom,
      right)`` in input pixels (unclipped; may extend into the padding).
    patches: [C, k, fh, fw, ch] crops of the dataset images at ``boxes``
      (dtype of the images; pixels outside the image are 0).
    field: the layer's :class:`ReceptiveField`.
  """

  layer: str
  channels: np.ndarray
  values: np.ndarray
  image_indices: np.ndarray
  positions: np.ndarray
  boxes: np.ndarray
  patches: np.ndarray
  field: ReceptiveField


@functools.partial(jax.jit, static_argnames=("model", "layer"))
def _channel_maxima(model: nn.Module, variables, x, channels, layer):
  """Per image and chosen channel: the max over space and its flat position, each [B, C]."""
  act = taps.flax_layer_fn(model, variables, layer)(x)[1][..., channels]  # [B, h, w, C]
  flat = act.reshape(act.shape[0], -1, act.shape[-1])
  return jnp.max(flat, axis=1), jnp.argmax(flat, axis=1).astype(jnp.int32)


def top_activating_inputs(model: nn.Module, variables, images, layer: str,
                          channels: Sequence[int], *, k: int = 9, batch_size: int = 256,
                          preprocess: features.Preprocess | None = None,
                          key: jax.Array | None = None) -> TopActivations:
  """The k dataset images that activate each channel most, with their patches.

  Args:
    model: a Flax linen model.
    variables: ``{"params": params}``.
    images: [N, H, W, C] dataset: uint8 pixels (with ``preprocess``) or
      float model inputs. Patches are cropped from these arrays.
    layer: a conv (or pooling) layer with output [B, h, w, c].
    channels: channel indices of that layer to search.
    k: images per channel (<= N).
    batch_size: images per jitted pass (rounded up to a multiple of the local
      device count).
    preprocess: map from a numpy batch of ``images`` to model inputs, e.g.
      ``meta.preprocess``; None uses float images as they are.
    key: PRNG key of the receptive-field probes.

  Returns:
    A :class:`TopActivations`.

  Raises:
    ValueError: unknown layer (lists the valid ones), a non-spatial layer,
      channel indices out of range, or k not in [1, N]; all before the pass.
  """
  images = features.check_dataset_images(images, preprocess)
  if validation.check_positive_int(k, "k") > len(images):
    raise ValueError(f"k must be an int in [1, {len(images)}] (the number of images), got {k!r}.")
  mesh = sharding.batch_mesh()
  batch_size = sharding.round_up_batch(batch_size, mesh)
  shape = _spatial_output_shape(model, variables, (batch_size,) + images.shape[1:], layer)
  channels = np.asarray(channels, np.int32).reshape(-1)
  bad = channels[(channels < 0) | (channels >= shape[3])]
  if len(channels) == 0 or len(bad):
    raise ValueError(f"channels must be a non-empty list of indices in [0, {shape[3]}) for layer "
                     f"{layer!r}; got {channels.tolist()}.")
  field = receptive_field(model, variables, layer, images.shape[1:], key=key)
  placed = sharding.put_replicated(variables, mesh)
  chans = sharding.put_replicated(jnp.asarray(channels), mesh)
  maxima, where = sharding.map_batches(
      lambda x: _channel_maxima(model, placed, x, chans, layer),
      [features.Preprocessed(images, preprocess)], batch_size=batch_size, mesh=mesh)
  # Per channel, the k largest maxima; ties go to the earlier image (stable sort).
  indices = np.argsort(-maxima.T, axis=1, kind="stable")[:, :k]  # [C, k]
  values = np.take_along_axis(maxima.T, indices, axis=1)
  flat_pos = np.take_along_axis(where.T, indices, axis=1)
  positions = np.stack(np.divmod(flat_pos, shape[2]), axis=-1)
  boxes = np.asarray([[field.box(*p) for p in row] for row in positions], np.int64)
  patches = np.stack([
      np.stack([crop_patch(images[idx], box) for idx, box in zip(row_idx, row_box)])
      for row_idx, row_box in zip(indices, boxes)])
  return TopActivations(layer=layer, channels=channels, values=values, image_indices=indices,
                        positions=positions, boxes=boxes, patches=patches, field=field)
