"""Reaching a named layer of a model without editing it.

A *layer function* is ``fn(x, delta) -> (logits, activation)``: it runs the
model on ``x`` [B, H, W, C], adds ``delta`` (same shape as the activation, or
``None`` for no perturbation) to the named layer's output, and returns the
logits together with that (perturbed) activation. Differentiating with
respect to ``delta`` at zero gives the gradient of any function of the
logits with respect to the layer's activations (what Grad-CAM needs), in the
same forward pass.

Two ways to build one:

* :func:`flax_layer_fn`: a Flax linen model and a layer name (the module path
  joined by ``/``, e.g. ``"expanded_conv_3/expand"``), via
  ``nn.intercept_methods``;
* :func:`split_layer_fn`: a plain function written as ``head(features(x))``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

LayerFn = Callable[[jax.Array, Any], tuple[jax.Array, jax.Array]]


def _path(context) -> str:
  return "/".join(context.module.scope.path)


def layer_names(model: nn.Module, variables, input_shape: Sequence[int]) -> list[str]:
  """Names of every addressable layer (submodule) of ``model``, in call order.

  Args:
    model: a Flax linen module.
    variables: its variables, e.g. ``{"params": params}``.
    input_shape: the input shape ``[B, H, W, C]`` (only shapes are traced).

  Returns:
    Module paths joined by ``/``, outermost first within each call.
  """
  names = []

  def record(next_fun, args, kwargs, context):
    name = _path(context)
    if context.method_name == "__call__" and name and name not in names:
      names.append(name)
    return next_fun(*args, **kwargs)

  x = jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
  with nn.intercept_methods(record):
    jax.eval_shape(model.apply, variables, x)
  return names


def check_layer_names(model: nn.Module, variables, input_shape, layers: Sequence[str]):
  """Raises ValueError naming the valid layers if any of ``layers`` is unknown."""
  valid = layer_names(model, variables, input_shape)
  unknown = [name for name in layers if name not in valid]
  if unknown:
    raise ValueError(f"Unknown layer name(s) {unknown}. Valid layer names: {valid}.")


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
      if context.method_name == "__call__" and _path(context) == layer:
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


def activations(model: nn.Module, variables, x: jax.Array,
                layers: Sequence[str]) -> dict[str, jax.Array]:
  """Outputs of the named layers for input ``x``: {name: [B, ...]}.

  Raises:
    ValueError: an unknown layer name (the message lists the valid ones).
  """
  layers = list(layers)
  check_layer_names(model, variables, x.shape, layers)
  wanted = set(layers)
  captured = {}

  def tap(next_fun, args, kwargs, context):
    out = next_fun(*args, **kwargs)
    name = _path(context)
    if context.method_name == "__call__" and name in wanted:
      captured[name] = out
    return out

  with nn.intercept_methods(tap):
    model.apply(variables, x)
  return {name: captured[name] for name in layers}
