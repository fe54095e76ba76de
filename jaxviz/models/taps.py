"""Reaching a named layer of a model without editing it.

A layer's *name* is its Flax module path joined by ``/`` (e.g.
``"expanded_conv_3/expand"``); its activation is that module's ``__call__``
output.

* Reading activations (:func:`activations`, :func:`layer_names`) uses Flax's
  own ``capture_intermediates``.
* Differentiating w.r.t. an activation needs a perturbation added to it in
  the forward pass: a *layer function* ``fn(x, delta) -> (logits,
  activation)`` runs the model on ``x`` [B, H, W, C], adds ``delta`` (same
  shape as the activation, or ``None``) to the named layer's output and
  returns the logits with that (perturbed) activation. The gradient w.r.t.
  ``delta`` at zero is the gradient of any function of the logits w.r.t. the
  layer's activations (what Grad-CAM needs), from the same forward pass.
  :func:`flax_layer_fn` builds one for a Flax model (through
  ``nn.intercept_methods``, the one place that needs it);
  :func:`split_layer_fn` for a plain function ``head(features(x))``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ("LayerFn", "UnknownLayerError", "activations", "check_layer_names",
           "check_layer_output", "flax_layer_fn", "layer_names", "layer_output_shapes",
           "split_layer_fn")

LayerFn = Callable[[jax.Array, Any], tuple[jax.Array, jax.Array]]


class UnknownLayerError(ValueError):
  """A layer name the model does not have; the message lists the valid ones."""

_CALL = "__call__"


def layer_names(model: nn.Module, variables, input_shape: Sequence[int]) -> list[str]:
  """Names of every addressable layer (submodule) of ``model``.

  Flax evaluates the ``capture_intermediates`` filter once per module call,
  when the call returns; the filter here records the names in that order and
  captures nothing.

  Args:
    model: a Flax linen module.
    variables: its variables, e.g. ``{"params": params}``.
    input_shape: the input shape ``[B, H, W, C]`` (only shapes are traced).

  Returns:
    Module paths joined by ``/``, in the order their outputs are produced
    (a block after its sublayers: ``expanded_conv_3/expand``, ...,
    ``expanded_conv_3``).
  """
  names = []

  def record(module: nn.Module, method_name: str) -> bool:
    name = "/".join(module.scope.path)
    if method_name == _CALL and name and name not in names:
      names.append(name)
    return False

  x = jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
  jax.eval_shape(lambda v, x: model.apply(v, x, capture_intermediates=record), variables, x)
  return names


def check_layer_names(model: nn.Module, variables, input_shape, layers: Sequence[str]):
  """Raises :class:`UnknownLayerError` (a ValueError) naming the valid layers if any is unknown."""
  valid = layer_names(model, variables, input_shape)
  unknown = [name for name in layers if name not in valid]
  if unknown:
    raise UnknownLayerError(f"Unknown layer name(s) {unknown}. Valid layer names: {valid}.")


def activations(model: nn.Module, variables, x: jax.Array,
                layers: Sequence[str]) -> dict[str, jax.Array]:
  """Outputs of the named layers for input ``x``: {name: [B, ...]}, one forward pass.

  Differentiable and jittable (the names are static).

  Raises:
    ValueError: an unknown layer name (the message lists the valid ones).
  """
  layers = list(layers)
  check_layer_names(model, variables, x.shape, layers)
  wanted = set(layers)

  def capture(module: nn.Module, method_name: str) -> bool:
    return method_name == _CALL and "/".join(module.scope.path) in wanted

  _, state = model.apply(variables, x, capture_intermediates=capture, mutable=["intermediates"])
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(state["intermediates"]))
  captured = {"/".join(path[:-1]): values[-1] for path, values in flat.items()}
  return {name: captured[name] for name in layers}


def flax_layer_fn(model: nn.Module, variables, layer: str, *,
                  input_shape: Sequence[int] | None = None) -> LayerFn:
  """A layer function for the Flax layer ``layer`` (see module docstring).

  Args:
    model: a Flax linen module whose ``apply(variables, x)`` returns logits.
    variables: its variables, e.g. ``{"params": params}``.
    layer: module path, e.g. ``"conv2"`` or ``"expanded_conv_16/project"``.
    input_shape: if given, the layer name is validated now (ValueError listing
      the valid names); otherwise it is validated on the first trace.

  Returns:
    ``fn(x, delta) -> (logits [B, K], activation [B, ...])``.
  """
  if input_shape is not None:
    check_layer_names(model, variables, input_shape, [layer])

  def fn(x, delta=None):
    captured = []

    def tap(next_fun, args, kwargs, context):
      out = next_fun(*args, **kwargs)
      if context.method_name == _CALL and "/".join(context.module.scope.path) == layer:
        if delta is not None:
          out = out + delta
        captured.append(out)
      return out

    with nn.intercept_methods(tap):
      logits = model.apply(variables, x)
    if not captured:
      check_layer_names(model, variables, x.shape, [layer])
    return logits, captured[-1]

  return fn


def split_layer_fn(features: Callable[[jax.Array], jax.Array],
                   head: Callable[[jax.Array], jax.Array]) -> LayerFn:
  """A layer function for a model written as ``head(features(x))``."""

  def fn(x, delta=None):
    act = features(x)
    if delta is not None:
      act = act + delta
    return head(act), act

  return fn


def check_layer_output(out: Any, batch: int
                       ) -> tuple[jax.ShapeDtypeStruct, jax.ShapeDtypeStruct]:
  """Validates the output shapes of a layer function: ``(logits, activation [B, ..., C])``.

  Args:
    out: ``jax.eval_shape`` of ``layer_fn(x, None)``.
    batch: the input batch size B.

  Raises:
    ValueError: not a pair, or an activation without a batch and a channel axis.
  """
  if not (isinstance(out, tuple) and len(out) == 2):
    raise ValueError("layer_fn must return (logits, activation); build it with "
                     "taps.flax_layer_fn or taps.split_layer_fn.")
  logits, act = out
  if len(act.shape) < 2 or act.shape[0] != batch:
    raise ValueError(f"The layer activation must have shape [B, ..., C] with B={batch}, "
                     f"got {act.shape}.")
  return logits, act


def layer_output_shapes(layer_fn: LayerFn, x: jax.typing.ArrayLike
                        ) -> tuple[jax.ShapeDtypeStruct, jax.ShapeDtypeStruct]:
  """Shapes of ``layer_fn(x, None)``: ``(logits, activation [B, ..., C])``.

  Raises:
    ValueError: unknown layer (the message lists the valid ones), or see
      :func:`check_layer_output`.
  """
  out = jax.eval_shape(lambda x: layer_fn(x, None), jax.ShapeDtypeStruct(x.shape, x.dtype))
  return check_layer_output(out, x.shape[0])
