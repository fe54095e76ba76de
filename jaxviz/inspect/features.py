"""Activations of a named layer: for one image (feature maps) or a whole dataset.

:func:`extract_features` runs the model over a dataset in fixed-size batches
through one module-level jitted function. The last batch is padded to the
batch size, so every batch has the same shape and nothing recompiles. With
several local devices the batch axis is sharded over a
``Mesh(local_devices, ("batch",))`` with ``NamedSharding(mesh, P("batch"))``
and the variables are replicated; XLA runs each device's slice of the batch
in parallel. The result is identical to running the forward pass batch by
batch on one device.
"""

from __future__ import annotations

import functools
import logging
from typing import Callable, Iterator, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from jaxviz.models import taps

LOG = logging.getLogger(__name__)
BATCH_AXIS = "batch"

Preprocess = Callable[[np.ndarray], np.ndarray]


def data_mesh() -> Mesh | None:
  """A 1-D mesh over all local devices (axis ``"batch"``), or None for one device."""
  devices = jax.local_devices()
  if len(devices) < 2:
    return None
  return Mesh(np.asarray(devices), (BATCH_AXIS,))


def sharded_batch_size(batch_size: int, mesh: Mesh | None) -> int:
  """``batch_size`` rounded up to a multiple of the mesh's device count."""
  if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
      or batch_size <= 0):
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  if mesh is None:
    return int(batch_size)
  n = mesh.devices.size
  rounded = -(-int(batch_size) // n) * n
  if rounded != batch_size:
    LOG.info("batch_size %d rounded up to %d, a multiple of the %d devices.", batch_size,
             rounded, n)
  return rounded


def put_batch(x: np.ndarray, mesh: Mesh | None) -> jax.Array:
  """Places a batch on the devices, split along its first axis when sharded."""
  if mesh is None:
    return jnp.asarray(x)
  return jax.device_put(x, NamedSharding(mesh, P(BATCH_AXIS)))


def put_replicated(tree, mesh: Mesh | None):
  """Places a pytree (e.g. the variables) on every device of the mesh."""
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, P()))


def check_dataset_images(images, preprocess: Preprocess | None) -> np.ndarray:
  """Validates a dataset array [N, H, W, C] (uint8 needs a ``preprocess``)."""
  if not isinstance(images, np.ndarray) and not isinstance(images, jax.Array):
    raise ValueError(f"images must be an array [N, H, W, C], got {type(images).__name__}.")
  images = np.asarray(images)
  if images.ndim != 4 or len(images) == 0:
    raise ValueError(f"images must be a non-empty array [N, H, W, C], got shape {images.shape}.")
  if images.dtype == np.uint8:
    if preprocess is None:
      raise ValueError("images are uint8 pixels; pass preprocess=meta.preprocess (or another "
                       "map to the model's input space) to extract features from them.")
  elif not np.issubdtype(images.dtype, np.floating):
    raise ValueError(f"images must be uint8 pixels or float model inputs, got {images.dtype}.")
  return images


def padded_batches(images: np.ndarray, batch_size: int,
                   preprocess: Preprocess | None) -> Iterator[tuple[np.ndarray, int]]:
  """Yields ``(x float32 [batch_size, ...], n_valid)`` covering ``images`` in order.

  The last batch is padded with copies of its first example (valid inputs,
  so no NaN/Inf can appear) up to ``batch_size``; only the first ``n_valid``
  rows are real.
  """
  for start in range(0, len(images), batch_size):
    chunk = images[start:start + batch_size]
    n = len(chunk)
    if n < batch_size:
      chunk = np.concatenate([chunk, np.repeat(chunk[:1], batch_size - n, axis=0)])
    x = preprocess(chunk) if preprocess is not None else chunk
    yield np.asarray(x, np.float32), n


@functools.partial(jax.jit, static_argnames=("model", "layer"))
def _layer_output(model: nn.Module, variables, x: jax.Array, layer: str) -> jax.Array:
  return taps.flax_layer_fn(model, variables, layer)(x)[1]


def extract_features(model: nn.Module, variables, images, layer: str, *, batch_size: int = 256,
                     preprocess: Preprocess | None = None) -> np.ndarray:
  """The named layer's activations for every image of a dataset.

  Args:
    model: a Flax linen model (see :mod:`jaxviz.models.taps` for layer names).
    variables: its variables, ``{"params": params}``.
    images: [N, H, W, C]: uint8 pixels (then ``preprocess`` is required) or
      float model inputs.
    layer: layer name, e.g. ``"fc1"`` or ``"expanded_conv_6"``.
    batch_size: images per forward pass; rounded up to a multiple of the
      local device count when there are several devices.
    preprocess: numpy map from a batch of ``images`` to float32 model inputs,
      e.g. ``meta.preprocess``; None uses float ``images`` as they are.

  Returns:
    float32 [N, ...]: the layer's output per image (e.g. [N, 128] for
    ``fc1``, [N, 28, 28, 32] for ``conv1``).

  Raises:
    ValueError: bad images/batch size, or an unknown layer (the message lists
      the valid ones), before any forward pass.
  """
  images = check_dataset_images(images, preprocess)
  mesh = data_mesh()
  batch_size = sharded_batch_size(batch_size, mesh)
  example = jax.ShapeDtypeStruct((batch_size,) + images.shape[1:], jnp.float32)
  taps.check_layer_names(model, variables, example.shape, [layer])
  out_shape = jax.eval_shape(functools.partial(_layer_output, model, layer=layer),
                             variables, example)
  out = np.empty((len(images),) + out_shape.shape[1:], np.float32)
  placed = put_replicated(variables, mesh)
  start = 0
  for x, n in padded_batches(images, batch_size, preprocess):
    out[start:start + n] = np.asarray(_layer_output(model, placed, put_batch(x, mesh), layer))[:n]
    start += n
  return out


def feature_maps(model: nn.Module, variables, x: jax.typing.ArrayLike, layer: str,
                 channels: Sequence[int] | None = None) -> jax.Array:
  """One layer's activations for a batch of model inputs, optionally some channels.

  Args:
    model: a Flax linen model.
    variables: ``{"params": params}``.
    x: float model inputs [B, H, W, C].
    layer: layer name.
    channels: indices along the layer's last axis to keep; None keeps all.

  Returns:
    [B, ..., len(channels)]: e.g. [B, h, w, c] for a conv layer, [B, c] for a
    dense layer.

  Raises:
    ValueError: unknown layer (lists the valid ones) or a channel index out
      of range.
  """
  x = jnp.asarray(x)
  act = taps.activations(model, variables, x, [layer])[layer]
  if channels is None:
    return act
  channels = [int(c) for c in channels]
  num = act.shape[-1]
  bad = [c for c in channels if not 0 <= c < num]
  if bad:
    raise ValueError(f"Channel indices {bad} out of range for layer {layer!r} with {num} "
                     f"channels (output shape {tuple(act.shape)}).")
  return act[..., jnp.asarray(channels)]


def most_active_channels(act: jax.typing.ArrayLike, num: int) -> np.ndarray:
  """Indices of the ``num`` channels (last axis) with the largest mean activation.

  Args:
    act: activations [..., C] of one image or a batch.
    num: how many channels (clipped to C).

  Returns:
    int array [min(num, C)], most active first (ties: lower index first).
  """
  act = np.asarray(act)
  means = act.reshape(-1, act.shape[-1]).mean(axis=0)
  order = np.argsort(-means, kind="stable")
  return order[:min(int(num), len(order))]

