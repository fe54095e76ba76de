"""Steps, projections and random starts of L-inf and L2 attacks, in input space.

All functions work on batches ``[B, H, W, C]`` in the model's input space
with a :class:`~jaxviz.robustness.units.Budget` whose amounts are per channel
``[C]`` (see :mod:`jaxviz.robustness.units` for how the balls are defined on
pixels). Every result lies in the intersection of the ball around ``x0`` and
the input box:

* L-inf: the ball and the box are intervals per value; clipping to one then
  the other is the exact projection onto their intersection.
* L2: the pixel difference is scaled back onto the ball, then the box clip
  moves each value towards ``x0`` (which lies in the box), so the norm can only
  shrink and the point stays in the ball (Madry et al.'s projection).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz.robustness import units

__all__ = ("ball_sample", "project", "start_point", "step")

# Guards divisions by a zero gradient or a zero difference.
_TINY = 1e-12


def _per_example_l2(v: jax.Array) -> jax.Array:
  """[B, 1, 1, 1] L2 norm of each example of ``v`` [B, H, W, C]."""
  return jnp.sqrt(jnp.sum(v * v, axis=tuple(range(1, v.ndim)), keepdims=True))


def step(x: jax.Array, grad: jax.Array, budget: units.Budget, norm: str) -> jax.Array:
  """One steepest-ascent step of ``budget``'s step size on the pixels.

  Args:
    x: [B, H, W, C] current point (input space).
    grad: [B, H, W, C] gradient of the attack loss w.r.t. ``x``.
    budget: the attack budget.
    norm: ``"linf"`` (``x + step * sign(grad)`` per channel) or ``"l2"``
      (``step`` pixels along the normalised pixel gradient).

  Returns:
    [B, H, W, C] the moved point (not yet projected).
  """
  if norm == "linf":
    return x + budget.step_input * jnp.sign(grad)
  pixel_grad = grad * budget.unit
  return x + budget.step_input * pixel_grad / jnp.maximum(_per_example_l2(pixel_grad), _TINY)


def project(x: jax.Array, x0: jax.Array, budget: units.Budget, norm: str) -> jax.Array:
  """``x`` moved into the ``norm`` ball of radius epsilon around ``x0`` and into the box."""
  if norm == "linf":
    x = jnp.clip(x, x0 - budget.epsilon_input, x0 + budget.epsilon_input)
  else:
    delta = x - x0
    pixel_norm = _per_example_l2(delta / budget.unit)
    x = x0 + delta * jnp.minimum(1.0, budget.epsilon / jnp.maximum(pixel_norm, _TINY))
  return jnp.clip(x, budget.low, budget.high)


def ball_sample(key: jax.Array, shape: tuple[int, ...], norm: str) -> jax.Array:
  """Uniform points of the unit ball, one per example of ``shape`` = [B, H, W, C].

  L-inf: uniform in ``[-1, 1]`` per value (Madry et al.). L2: uniform in the
  unit L2 ball (a Gaussian direction and radius ``u^(1/d)``). Scaled by
  :func:`start_point` to the budget's ball, so the draw does not depend on
  epsilon or on the model's units.
  """
  if norm == "linf":
    return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
  direction_key, radius_key = jax.random.split(key)
  direction = jax.random.normal(direction_key, shape, jnp.float32)
  direction = direction / jnp.maximum(_per_example_l2(direction), _TINY)
  dim = int(np.prod(shape[1:]))
  radius = jax.random.uniform(radius_key, (shape[0],) + (1,) * (len(shape) - 1)) ** (1.0 / dim)
  return direction * radius


def start_point(x0: jax.Array, offset: jax.Array, budget: units.Budget, norm: str) -> jax.Array:
  """``x0`` moved by a unit-ball ``offset`` (:func:`ball_sample`) scaled to the ball; in the box."""
  scale = budget.epsilon_input if norm == "linf" else budget.epsilon * budget.unit
  return jnp.clip(x0 + offset * scale, budget.low, budget.high)
