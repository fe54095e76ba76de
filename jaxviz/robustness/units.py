"""Attack budgets: pixel-space epsilons and step sizes as input-space amounts.

Papers give attack budgets in pixel units (each channel in [0, 1]: epsilon
8/255 for ImageNet, 0.3 for MNIST), but a model sees its own input space
(MobileNet: [-1, 1]; VGG: per-channel mean/std normalisation). Mixing the two
is the most reported bug of attack libraries (torchattacks#6/#68/#145,
foolbox#703, auto-attack#86). Here every attack takes its budget in pixel
units and a :class:`~jaxviz.models.meta.ModelMeta`; :func:`make_budget`
converts them, through ``meta.pixel_budget`` only, into a :class:`Budget` of
arrays that the attacks use in the model's input space.

The threat models, both defined on the **pixels** ``p = x * std + mean``:

* ``"linf"``: ``max |p_adv - p| <= epsilon``. In input space this is a box of
  half-width ``meta.pixel_budget(epsilon)`` per channel, and a sign step of
  ``step_size`` pixels is a step of ``meta.pixel_budget(step_size)`` input
  units per channel (``sign`` of the pixel gradient equals ``sign`` of the
  input gradient because ``std > 0``).
* ``"l2"``: ``||p_adv - p||_2 <= epsilon``. With equal ``std`` over channels
  (MobileNet, the small CNN) this is an ordinary L2 ball in input space; with
  per-channel ``std`` (VGG) it is an ellipsoid there. Steps are steepest
  ascent for the pixel L2 norm: the pixel gradient ``g_p = g_x * unit``
  (``unit = meta.pixel_budget(1)``, input units per pixel unit) normalised,
  times ``step_size`` pixels, mapped to input units per channel. The attack
  thus runs in pixel space through the affine map, while the model is always
  called on input-space values.

The box is ``meta.input_bounds`` (pixels 0 and 1 of each channel).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.models import meta as meta_lib

__all__ = ("Budget", "NORMS", "make_budget", "max_epsilon", "pixel_norm")

NORMS = ("linf", "l2")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Budget:
  """An attack budget in the model's input space (arrays: no recompile per epsilon).

  Attributes:
    epsilon: scalar, the radius in pixel units.
    epsilon_input: [C] the L-inf radius per input channel
      (``meta.pixel_budget(epsilon)``).
    step_input: [C] the step size per input channel
      (``meta.pixel_budget(step_size)``).
    unit: [C] input units per pixel unit (``meta.pixel_budget(1)``).
    low: [C] the lower end of the valid input box.
    high: [C] the upper end of the valid input box.
  """

  epsilon: jax.Array
  epsilon_input: jax.Array
  step_input: jax.Array
  unit: jax.Array
  low: jax.Array
  high: jax.Array


def max_epsilon(norm: str, input_shape: Sequence[int]) -> float:
  """The largest meaningful radius in pixel units: the diameter of the pixel box.

  L-inf: 1 (every pixel can be set to any value); L2: ``sqrt(H * W * C)``.
  """
  if norm not in NORMS:
    raise ValueError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
  return 1.0 if norm == "linf" else math.sqrt(float(np.prod(input_shape)))


def make_budget(meta: meta_lib.ModelMeta, norm: str, epsilon: float,
                step_size: float | None = None) -> Budget:
  """Converts a pixel-space budget into input-space arrays for ``meta``'s model.

  Args:
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta`.
    norm: ``"linf"`` or ``"l2"`` (both measured on pixels, see the module doc).
    epsilon: radius in pixel units ([0, 1] per channel), e.g. ``8 / 255``.
    step_size: step size in pixel units; ``None`` means ``epsilon`` (FGSM).

  Returns:
    A :class:`Budget`.

  Raises:
    ValueError: unknown norm, a negative or non-finite epsilon or step size,
      or an epsilon larger than the box (:func:`max_epsilon`).
  """
  if norm not in NORMS:
    raise ValueError(f"Unknown norm {norm!r}; expected one of {NORMS}.")
  epsilon = validation.check_non_negative(epsilon, "epsilon")
  step_size = epsilon if step_size is None else validation.check_non_negative(step_size,
                                                                               "step_size")
  largest = max_epsilon(norm, meta.input_shape)
  if epsilon > largest:
    raise ValueError(f"epsilon={epsilon:g} (pixel units) is larger than the pixel box allows "
                     f"for norm {norm!r} (at most {largest:g}: pixels are in [0, 1] per "
                     "channel). Give epsilon in [0, 1] pixel units, e.g. 8/255, not 8.")
  low, high = meta.input_bounds
  return Budget(epsilon=jnp.float32(epsilon),
                epsilon_input=jnp.asarray(meta.pixel_budget(epsilon)),
                step_input=jnp.asarray(meta.pixel_budget(step_size)),
                unit=jnp.asarray(meta.pixel_budget(1.0)),
                low=jnp.asarray(low, jnp.float32), high=jnp.asarray(high, jnp.float32))


def pixel_norm(delta: jax.Array, unit: jax.Array, norm: str) -> jax.Array:
  """Per-example norm in pixel units of an input-space difference ``delta`` [B, ...].

  Args:
    delta: ``x_adv - x`` [B, H, W, C] in input units.
    unit: [C] input units per pixel unit (:attr:`Budget.unit`).
    norm: ``"linf"`` or ``"l2"``.

  Returns:
    [B] the L-inf or L2 norm of the pixel difference.
  """
  pixels = (delta / unit).reshape(delta.shape[0], -1)
  if norm == "linf":
    return jnp.max(jnp.abs(pixels), axis=1)
  return jnp.sqrt(jnp.sum(pixels * pixels, axis=1))

