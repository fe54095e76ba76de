"""Integrated Gradients along the straight path from a baseline.

Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks",
https://arxiv.org/abs/1703.01365.

For input ``x``, baseline ``x0`` and target logit ``F = f(.)[t]``::

  IG(x) = (x - x0) * integral_0^1 dF/dx (x0 + a (x - x0)) da

approximated by a quadrature rule ``sum_k w_k dF/dx(x0 + a_k (x - x0))``.
*Completeness*: ``sum(IG(x)) = F(x) - F(x0)`` up to the quadrature error,
which shrinks as ``steps`` grows (see :func:`integration_points` for the
rules and their orders).

Memory: the weighted gradients of the path points are summed ``chunk_size``
at a time by :func:`jaxviz.chunking.chunked_sum` (``jax.vmap`` within a chunk,
:func:`jax.lax.scan` over chunks), so peak memory is that of ``chunk_size``
simultaneous forward/backward passes of the batch whatever ``steps`` is.
With ``[B, T]`` targets the forward pass at each path point is
shared by the ``T`` targets (one VJP per target).

The model must treat the images of a batch independently (no cross-batch
statistics, e.g. batch norm in inference mode), as for any per-image gradient.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import chunking
from jaxviz import validation
from jaxviz.attribution import gradients

__all__ = ("METHODS", "integrated_gradients", "integration_points")

METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid",
           "gausslegendre")


def integration_points(steps: int, method: str = "riemann_trapezoid") -> tuple[np.ndarray,
                                                                               np.ndarray]:
  """Quadrature nodes and weights on [0, 1] for the path integral.

  Rules (``n = steps``):

  * ``riemann_left`` / ``riemann_right``: ``a_k = k/n`` for ``k = 0..n-1`` /
    ``1..n``, ``w_k = 1/n``; error O(1/n).
  * ``riemann_middle``: ``a_k = (k + 1/2)/n``, ``w_k = 1/n``; error O(1/n^2).
  * ``riemann_trapezoid``: ``a_k = k/(n-1)`` for ``k = 0..n-1`` (both ends
    included), ``w_k = 1/(n-1)`` halved at the two ends; error O(1/n^2);
    needs ``n >= 2``. (Captum's "riemann_trapezoid" uses step ``1/n`` with
    these nodes, so its weights sum to ``(n-1)/n``; here they sum to 1.)
  * ``gausslegendre``: Gauss-Legendre nodes and weights mapped from [-1, 1]
    to [0, 1]; exact for polynomials of degree ``2n - 1``.

  Args:
    steps: number of nodes ``n``.
    method: one of :data:`METHODS`.

  Returns:
    ``(alphas [n], weights [n])`` as float64 numpy arrays; weights sum to 1.

  Raises:
    ValueError: unknown method, or too few steps for it.
  """
  if method not in METHODS:
    raise ValueError(f"Unknown integration method {method!r}; choose one of {METHODS}.")
  n = validation.check_positive_int(steps, "steps")
  if method == "riemann_trapezoid" and n < 2:
    raise ValueError(f"steps must be an int >= 2 for {method!r}, got {steps!r}.")
  k = np.arange(n, dtype=np.float64)
  if method == "gausslegendre":
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return 0.5 * (nodes + 1.0), 0.5 * weights
  if method == "riemann_trapezoid":
    weights = np.full(n, 1.0 / (n - 1))
    weights[[0, -1]] /= 2
    return k / (n - 1), weights
  offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}[method]
  return (k + offset) / n, np.full(n, 1.0 / n)


def _target_gradients(f, x, targets):
  """d f(x)[b, targets[b, t]] / d x[b] for every t: [B, T, ...] (one forward)."""
  logits, vjp = jax.vjp(f, x)
  (grads,) = gradients.vjp_over_targets(vjp, targets, logits.shape[-1], logits.dtype)
  return grads


def integrated_gradients(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
                         targets: jax.typing.ArrayLike, *,
                         baseline: jax.typing.ArrayLike | None = None, steps: int = 32,
                         chunk_size: int = 8,
                         method: str = "riemann_trapezoid") -> jax.Array:
  """Integrated Gradients of the target logits along the straight path.

  Compiled internally and cached per (``f``, ``steps``, ``chunk_size``,
  ``method``, shapes); also jittable as a whole with those arguments static.

  Args:
    f: model function ``x [B, H, W, C] -> logits [B, K]``.
    x: input images ``[B, H, W, C]``.
    targets: int target logits ``[B]`` or ``[B, T]``.
    baseline: the path start, broadcastable to ``x`` (e.g. a scalar, an
      ``[H, W, C]`` image or ``[B, H, W, C]``); ``None`` means zeros (black in
      [0, 1] inputs, mid-grey in [-1, 1] inputs: choose it deliberately).
    steps: number of quadrature nodes on the path.
    chunk_size: path points evaluated at once (bounds peak memory).
    method: quadrature rule, see :func:`integration_points`.

  Returns:
    Attributions ``[B, H, W, C]`` for ``[B]`` targets, ``[B, T, H, W, C]`` for
    ``[B, T]`` targets.

  Raises:
    ValueError: bad ``x``, ``targets``, ``baseline`` or options.
  """
  validation.check_images(x)
  integration_points(steps, method)  # Validates steps and method.
  chunk_size = validation.check_positive_int(chunk_size, "chunk_size")
  _, targets, squeeze = gradients.prepare_targets(f, x, targets)
  x = jnp.asarray(x)
  if baseline is None:
    baseline = jnp.zeros_like(x)
  else:
    shape = tuple(getattr(baseline, "shape", np.shape(baseline)))
    try:
      broadcast = np.broadcast_shapes(shape, x.shape)
    except ValueError:
      broadcast = None
    if broadcast != x.shape:
      raise ValueError(f"baseline of shape {shape} does not broadcast to x's shape {x.shape}.")
    validation.check_finite(baseline, "baseline")
    baseline = jnp.broadcast_to(jnp.asarray(baseline, x.dtype), x.shape)
  attr = _integrated_gradients(x, baseline, targets, f=f, steps=steps, chunk_size=chunk_size,
                               method=method)
  return attr[:, 0] if squeeze else attr


@functools.partial(jax.jit, static_argnames=("f", "steps", "chunk_size", "method"))
def _integrated_gradients(x, baseline, targets, *, f, steps, chunk_size, method):
  """:func:`integrated_gradients` after validation: [B, T, H, W, C] for targets [B, T]."""
  alphas, weights = integration_points(steps, method)
  delta = x - baseline

  def weighted_gradients(point):
    alpha, weight = point
    return weight * _target_gradients(f, baseline + alpha * delta, targets)

  total = chunking.chunked_sum(weighted_gradients, (jnp.asarray(alphas, x.dtype),
                                                    jnp.asarray(weights, x.dtype)),
                               chunk_size=chunk_size)
  return total * delta[:, None]
