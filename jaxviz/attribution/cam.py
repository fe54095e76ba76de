"""Grad-CAM and Guided Grad-CAM (Selvaraju et al. 2017).

https://arxiv.org/abs/1610.02391 . For a conv layer with activations
``A`` [B, h, w, C] and class score ``S``:

    w_c = mean_ij d S / d A_ijc          (global-average-pooled gradients)
    L   = ReLU(sum_c w_c A_c)            [B, h, w]

and ``L`` is upsampled bilinearly to the input size. Guided Grad-CAM is the
element-wise product of guided backprop (https://arxiv.org/abs/1412.6806)
with the upsampled ``L``.

The layer is reached through a layer function ``fn(x, delta) -> (logits,
activation)`` (:mod:`jaxviz.models.taps`); ``d S / d A`` is the gradient
w.r.t. ``delta`` at zero, from the same forward pass that yields ``A``. All
targets share that one forward pass (the VJP is vmapped over one-hot
cotangents).

Upsampling convention. ``jax.image.resize(..., "bilinear")`` samples output
pixel ``i`` at input coordinate ``(i + 0.5) * h / H - 0.5`` (half-pixel
centres) and replicates the edge pixels. For upsampling this is exactly
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
(what Captum's ``LayerAttribution.interpolate`` uses) and differs from
``align_corners=True``, which maps the corner pixel centres onto each other.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.models import taps

__all__ = ("grad_cam", "guided_grad_cam")


@functools.partial(jax.jit, static_argnames=("fn", "score_fn", "relu", "size"))
def _grad_cam(fn, consts, x, delta, targets, score_fn, relu, size):
  def scores(delta):
    logits, act = fn(consts, x, delta)
    return gradients.scored(logits, score_fn), act

  s, vjp, act = jax.vjp(scores, delta, has_aux=True)
  (grads,) = gradients.vjp_over_targets(vjp, targets, s.shape[-1], s.dtype)  # [B, T, h, w, C]
  weights = jnp.mean(grads, axis=(2, 3))  # [B, T, C]
  cam = jnp.einsum("bhwc,btc->bthw", act, weights)
  if relu:
    cam = jax.nn.relu(cam)
  if size is not None:
    cam = jax.image.resize(cam, cam.shape[:2] + size, "bilinear")
  return cam


def grad_cam(layer_fn: taps.LayerFn, x: jax.typing.ArrayLike,
             targets: jax.typing.ArrayLike, *, relu: bool = True, upsample: bool = True,
             score_fn: gradients.ScoreFn | None = None) -> jax.Array:
  """Grad-CAM class activation maps (https://arxiv.org/abs/1610.02391).

  Args:
    layer_fn: ``fn(x, delta) -> (logits [B, K], activation [B, h, w, C])``
      from ``taps.flax_layer_fn(model, variables, "conv2")`` or
      ``taps.split_layer_fn(features, head)``; reuse the same object across
      calls to hit the compilation cache.
    x: float inputs [B, H, W, C].
    targets: int class indices [B] or [B, T].
    relu: apply the paper's ReLU (``False`` keeps the signed map).
    upsample: resize bilinearly to the input size [H, W] (see the module
      docstring for the pixel alignment); ``False`` returns the layer-size
      map [h, w], as Captum's ``LayerGradCam`` does.
    score_fn: maps logits [B, K] to scores [B, K'], e.g.
      ``jax.nn.log_softmax``; default: the logits.

  Returns:
    [B, H, W] for targets [B], [B, T, H, W] for targets [B, T] ([h, w]
    instead of [H, W] with ``upsample=False``).

  Raises:
    ValueError: bad ``x`` (rank, dtype, NaN/Inf), unknown layer (the message
      lists the valid ones), a layer whose activation is not [B, h, w, C],
      targets of the wrong shape/dtype/range (all before any work).
  """
  validation.check_images(x)
  return _validated_grad_cam(layer_fn, x, targets, relu=relu, upsample=upsample,
                             score_fn=score_fn)


def _validated_grad_cam(layer_fn, x, targets, *, relu, upsample, score_fn):
  """:func:`grad_cam` for an ``x`` already checked (everything else is checked here)."""
  logits, act = taps.check_layer_output(
      gradients.prepare(layer_fn, "gradient", x, None).out_shape, x.shape[0])
  if len(act.shape) != 4:
    raise ValueError(f"Grad-CAM needs a spatial layer with activations [B, h, w, C], got "
                     f"{act.shape}.")
  num_scores = gradients.check_logits(logits, x.shape[0], score_fn, what="layer_fn(x)[0]")
  targets, squeeze = gradients.as_targets(targets, x.shape[0], num_scores)
  prep = gradients.prepare(layer_fn, "gradient", x, act)
  size = tuple(x.shape[1:3]) if upsample else None
  cam = _grad_cam(prep.fn, prep.consts, jnp.asarray(x), jnp.zeros(act.shape, act.dtype),
                  targets, score_fn, bool(relu), size)
  return cam[:, 0] if squeeze else cam


def guided_grad_cam(f: Callable[[jax.Array], jax.Array], layer_fn: taps.LayerFn,
                    x: jax.typing.ArrayLike, targets: jax.typing.ArrayLike, *,
                    score_fn: gradients.ScoreFn | None = None) -> jax.Array:
  """Guided Grad-CAM: guided backprop times the upsampled Grad-CAM map.

  https://arxiv.org/abs/1610.02391 (Sec. 3.1): the element-wise product of
  the guided backprop attribution [B, H, W, C] and the bilinearly upsampled
  (ReLU'd) Grad-CAM map, broadcast over the channels. Reduce the result
  with :func:`jaxviz.attribution.reductions.reduce_channels` for a 2-D map.

  Args:
    f: model function ``logits = f(x)``.
    layer_fn: a layer function of the same model (see :func:`grad_cam`).
    x: float inputs [B, H, W, C].
    targets: int [B] or [B, T].
    score_fn: optional ``score_fn(logits) -> [B, K']``.

  Returns:
    [B, H, W, C] for targets [B], [B, T, H, W, C] for targets [B, T].

  Raises:
    ValueError: see :func:`grad_cam` and :func:`gradients.input_gradients`.
    backward_rules.NoRectifierError: ``f`` has no rectifier to guide.
  """
  validation.check_images(x)
  # Trace the guided rewrite first: a model without rectifiers fails before any work.
  prep, guided_targets, _ = gradients.prepare_targets(f, x, targets, rule="guided_backprop",
                                                      score_fn=score_fn)
  cam = _validated_grad_cam(layer_fn, x, targets, relu=True, upsample=True, score_fn=score_fn)
  guided = gradients.validated_input_gradients(prep, x, guided_targets, score_fn)
  return guided.reshape(cam.shape + guided.shape[-1:]) * cam[..., None]
