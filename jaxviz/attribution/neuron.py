"""Gradients of internal neurons w.r.t. the input.

Which input pixels drive a unit of an intermediate layer? The plain gradient
answers with the sensitivity of the unit; with ``rule="guided_backprop"``
(Springenberg et al. 2014, https://arxiv.org/abs/1412.6806) or
``rule="deconvnet"`` (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901)
it gives the sharper "what pattern does this channel respond to" pictures of
those papers.

The layer is reached through a *layer function* ``fn(x, delta) -> (logits,
activation)`` (:mod:`jaxviz.models.taps`): ``taps.flax_layer_fn`` for a named
Flax layer, ``taps.split_layer_fn`` for a plain ``head(features(x))``.
Activations have shape [B, *S, C]: [B, h, w, C] for a conv layer (S = the
spatial axes), [B, C] for a dense layer (no spatial axes).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.models import taps

__all__ = ("Neuron", "SPATIAL_REDUCTIONS", "neuron_gradients", "top_channels")

SPATIAL_REDUCTIONS = ("mean", "max")
_MEAN, _MAX, _POSITION = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class Neuron:
  """A scalar per example read off a layer's activation [B, *S, C].

  * ``Neuron(c)``: channel ``c`` averaged over the spatial axes (for a dense
    layer [B, C]: unit ``c``);
  * ``Neuron(c, reduction="max")``: its maximum over the spatial axes;
  * ``Neuron(c, position=(i, j))``: the single unit at row ``i``, column ``j``.

  ``channel`` and the entries of ``position`` are ints, or int arrays [B] to
  pick a different unit per example (e.g. each image's own top channels from
  :func:`top_channels`).

  Attributes:
    channel: channel (last-axis) index.
    position: spatial index, one entry per spatial axis; ``None`` to reduce
      over the spatial axes.
    reduction: ``"mean"`` or ``"max"`` over the spatial axes (ignored with a
      position, and a no-op for dense layers).
  """

  channel: Any
  position: tuple[Any, ...] | None = None
  reduction: str = "mean"


def _layer_output_shapes(layer_fn: taps.LayerFn, x) -> tuple[jax.ShapeDtypeStruct,
                                                               jax.ShapeDtypeStruct]:
  """``(logits, activation)`` shapes of ``layer_fn(x, None)``, traced once (cached)."""
  return taps.check_layer_output(gradients.prepare(layer_fn, "gradient", x, None).out_shape,
                                 x.shape[0])


def _index(value, batch: int, size: int, what: str, where: int) -> np.ndarray:
  """An index (int or int array [B]) as int32 [B], range-checked."""
  arr = np.asarray(value)
  if not np.issubdtype(arr.dtype, np.integer) or arr.ndim > 1 or (
      arr.ndim == 1 and arr.shape[0] != batch):
    raise ValueError(f"neurons[{where}].{what} must be an int or an int array of shape "
                     f"[{batch}], got {value!r}.")
  if arr.size and (arr.min() < 0 or arr.max() >= size):
    raise ValueError(f"neurons[{where}].{what} out of range: must be in [0, {size}), "
                     f"got {value!r}.")
  return np.broadcast_to(arr, (batch,)).astype(np.int32)


def _encode(neurons: Sequence[Neuron], act_shape: tuple[int, ...]):
  """Validated neurons as arrays: channel [N, B], flat position [N, B], mode [N]."""
  batch, spatial, num_channels = act_shape[0], act_shape[1:-1], act_shape[-1]
  channels, positions, modes = [], [], []
  for n, neuron in enumerate(neurons):
    if not isinstance(neuron, Neuron):
      raise ValueError(f"neurons[{n}] must be a Neuron, got {type(neuron).__name__}.")
    if neuron.reduction not in SPATIAL_REDUCTIONS:
      raise ValueError(f"neurons[{n}].reduction must be one of {SPATIAL_REDUCTIONS}, "
                       f"got {neuron.reduction!r}.")
    channels.append(_index(neuron.channel, batch, num_channels, "channel", n))
    if neuron.position is None:
      positions.append(np.zeros((batch,), np.int32))
      modes.append(_MEAN if neuron.reduction == "mean" else _MAX)
      continue
    position = tuple(neuron.position)
    if len(position) != len(spatial):
      raise ValueError(f"neurons[{n}].position must have {len(spatial)} entries for an "
                       f"activation of shape {act_shape}, got {neuron.position!r}.")
    idx = [_index(p, batch, s, f"position[{a}]", n)
           for a, (p, s) in enumerate(zip(position, spatial))]
    positions.append(np.ravel_multi_index(idx, spatial).astype(np.int32) if idx
                     else np.zeros((batch,), np.int32))
    modes.append(_POSITION)
  return (jnp.asarray(np.stack(channels)), jnp.asarray(np.stack(positions)),
          jnp.asarray(np.array(modes, np.int32)))


def _select(act, channel, position, mode):
  """Neuron value per example [B] of ``act`` [B, *S, C] (channel/position [B])."""
  batch, num_channels = act.shape[0], act.shape[-1]
  flat = act.reshape(batch, -1, num_channels)  # [B, P, C]
  per_channel = jnp.take_along_axis(flat, channel[:, None, None], axis=2)[..., 0]  # [B, P]
  at = jnp.take_along_axis(per_channel, position[:, None], axis=1)[:, 0]
  return jnp.where(mode == _MEAN, per_channel.mean(axis=1),
                   jnp.where(mode == _MAX, per_channel.max(axis=1), at))


@functools.partial(jax.jit, static_argnames=("fn",))
def _neuron_gradients(fn, consts, x, channels, positions, modes):
  act, vjp = jax.vjp(lambda x: fn(consts, x, None)[1], x)

  def one(channel, position, mode):
    cotangent = jax.grad(lambda a: jnp.sum(_select(a, channel, position, mode)))(act)
    return vjp(cotangent)[0]

  return jax.vmap(one, out_axes=1)(channels, positions, modes)  # [B, N, H, W, C]


def neuron_gradients(layer_fn: taps.LayerFn, x: jax.typing.ArrayLike,
                     neurons: Neuron | Sequence[Neuron], *,
                     rule: str = "gradient") -> jax.Array:
  """Gradients of internal neurons w.r.t. the input, one forward pass for all.

  The layer's activation is linearised once (``jax.vjp``) and the VJP is
  vmapped over the cotangents selecting each neuron. The gradient of example
  ``b``'s neuron is taken w.r.t. ``x[b]``. ``"max"`` follows JAX's gradient
  of ``jnp.max``: ties share the gradient equally.

  Args:
    layer_fn: ``fn(x, delta) -> (logits, activation)`` from
      ``taps.flax_layer_fn`` / ``taps.split_layer_fn``; reuse the same object
      across calls to hit the compilation cache.
    x: float inputs [B, H, W, C].
    neurons: a :class:`Neuron` or a sequence of N of them.
    rule: ``"gradient"``, ``"guided_backprop"`` or ``"deconvnet"``. The
      rewrite covers every rectifier of the model, but only those between the
      input and the layer (its own activation included) affect the result:
      for a layer with no rectifier before it the rule is a no-op (and no
      ``NoRectifierError`` is raised if the model has rectifiers after it).

  Returns:
    [B, H, W, C] for a single neuron, [B, N, H, W, C] for a sequence.

  Raises:
    ValueError: bad ``x``, unknown layer (the message lists the valid ones),
      a neuron whose channel/position is out of range or of the wrong length,
      an unknown reduction or rule, an empty sequence (before any work).
    NoRectifierError: a non-gradient rule found no rectifier in the model
      (``jaxviz.attribution.backward_rules.NoRectifierError``).
  """
  validation.check_images(x)
  single = isinstance(neurons, Neuron)
  neurons = [neurons] if single else list(neurons)
  if not neurons:
    raise ValueError("neurons must name at least one Neuron.")
  act_shape = _layer_output_shapes(layer_fn, x)[1].shape
  channels, positions, modes = _encode(neurons, act_shape)
  prep = gradients.prepare(layer_fn, rule, x, None)
  grads = _neuron_gradients(prep.fn, prep.consts, jnp.asarray(x), channels, positions, modes)
  return grads[:, 0] if single else grads


@functools.partial(jax.jit, static_argnames=("fn", "k"))
def _top_channels(fn, consts, x, k):
  act = fn(consts, x, None)[1]
  means = act.reshape(act.shape[0], -1, act.shape[-1]).mean(axis=1)  # [B, C]
  values, indices = jax.lax.top_k(means, k)
  return indices, values


def top_channels(layer_fn: taps.LayerFn, x: jax.typing.ArrayLike,
                 k: int) -> tuple[jax.Array, jax.Array]:
  """Each example's ``k`` channels with the largest mean activation.

  Args:
    layer_fn: ``fn(x, delta) -> (logits, activation [B, *S, C])``.
    x: float inputs [B, H, W, C].
    k: number of channels, 1 <= k <= C.

  Returns:
    ``(indices, means)``: int32 [B, k] channel indices, strongest first, and
    their mean activations over the spatial axes [B, k]. ``Neuron(indices[:,
    n])`` selects each image's n-th strongest channel.

  Raises:
    ValueError: bad ``x``, unknown layer, or ``k`` out of range.
  """
  validation.check_images(x)
  act_shape = _layer_output_shapes(layer_fn, x)[1].shape
  num_channels = act_shape[-1]
  if validation.check_positive_int(k, "k") > num_channels:
    raise ValueError(f"k must be an int in [1, {num_channels}] (the layer's channels), got {k!r}.")
  prep = gradients.prepare(layer_fn, "gradient", x, None)
  return _top_channels(prep.fn, prep.consts, jnp.asarray(x), int(k))
