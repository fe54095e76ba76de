"""Activations of a named layer: for one image (feature maps) or a whole dataset.

:func:`extract_features` runs the model over a dataset in fixed-size batches
through one module-level jitted function, with :func:`jaxviz.sharding.map_batches`:
the last batch is padded to the batch size, so every batch has the same shape
and nothing recompiles, and each batch is sharded over a
``Mesh(local_devices, ("batch",))`` with ``NamedSharding(mesh, P("batch"))``
(the variables are replicated), so XLA runs each device's slice of the batch
in parallel. The result equals the forward pass run batch by batch on one
device.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import sharding
from jaxviz.models import taps

__all__ = ("check_dataset_images", "extract_features", "feature_maps", "most_active_channels",
           "Preprocess", "Preprocessed")

Preprocess = Callable[[np.ndarray], np.ndarray]


def check_dataset_images(images, preprocess: Preprocess | None) -> np.ndarray:
  """Validates a dataset array [N, H, W, C] (uint8 needs a ``preprocess``)."""
  if not isinstance(images, (np.ndarray, jax.Array)):
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


class Preprocessed:
  """A dataset view whose slices are preprocessed on access, batch by batch.

  :func:`jaxviz.sharding.map_batches` slices it like an array, so the dataset
  is never converted to float at once.
  """

  def __init__(self, images: np.ndarray, preprocess: Preprocess | None):
    self.images, self.preprocess = images, preprocess

  def __len__(self) -> int:
    return len(self.images)

  def __getitem__(self, index: slice) -> np.ndarray:
    chunk = self.images[index]
    return np.asarray(chunk if self.preprocess is None else self.preprocess(chunk), np.float32)


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
      local device count.
    preprocess: numpy map from a batch of ``images`` to float32 model inputs,
      e.g. ``meta.preprocess`` (applied batch by batch); None uses float
      ``images`` as they are.

  Returns:
    float32 [N, ...]: the layer's output per image (e.g. [N, 128] for
    ``fc1``, [N, 28, 28, 32] for ``conv1``).

  Raises:
    ValueError: bad images/batch size, or an unknown layer (the message lists
      the valid ones), before any forward pass.
  """
  images = check_dataset_images(images, preprocess)
  mesh = sharding.batch_mesh()
  sharding.round_up_batch(batch_size, mesh)  # validates batch_size
  taps.check_layer_names(model, variables, (1,) + images.shape[1:], [layer])
  placed = sharding.put_replicated(variables, mesh)
  fn = lambda x: _layer_output(model, placed, x, layer)
  out = sharding.map_batches(fn, [Preprocessed(images, preprocess)], batch_size=batch_size,
                             mesh=mesh)
  return np.asarray(out, np.float32)


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

