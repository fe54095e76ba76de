"""Random parameters for any Flax model, drawn with numpy (nothing to compile).

Compiling Flax's initialisers costs seconds per layer on CPU (more than a whole
smoke experiment); tests, benchmarks and random-weight builders draw the
parameters here instead, from the shapes alone (``jax.eval_shape``).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ("random_params",)


def random_params(model, input_shape: Sequence[int], *, seed: int = 0, kernel_gain: float = 1.0,
                  bias_std: float = 0.1) -> dict[str, Any]:
  """Random ``params`` for a Flax module: scaled-normal kernels, normal biases.

  Every leaf with two or more axes (a kernel ``[..., fan_in part, O]``) is
  ``N(0, kernel_gain^2 / fan_in)`` with ``fan_in`` the product of all but the
  last axis: ``kernel_gain=1`` is LeCun-normal, ``sqrt(2)`` He-normal (keeps
  ReLU activations O(1) through deep stacks). Every other leaf (biases) is
  ``N(0, bias_std^2)``; non-zero by default, so a wrong bias mapping shows.

  Args:
    model: a Flax linen module.
    input_shape: the input shape ``[B, H, W, C]`` (only traced).
    seed: numpy seed (same seed, same parameters).
    kernel_gain: the kernels' standard deviation times ``sqrt(fan_in)``.
    bias_std: the other leaves' standard deviation (0 gives zeros).

  Returns:
    The ``params`` collection (no ``{"params": ...}`` wrapper), float32.
  """
  x = jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  rng = np.random.default_rng(seed)

  def draw(leaf):
    z = rng.standard_normal(leaf.shape).astype(np.float32)
    if len(leaf.shape) >= 2:
      return jnp.asarray(z * np.float32(kernel_gain / np.sqrt(np.prod(leaf.shape[:-1]))))
    return jnp.asarray(z * np.float32(bias_std))

  return jax.tree.map(draw, shapes)
