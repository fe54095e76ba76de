"""Input checks shared by every method: clear errors before any work.

Checks run once, on concrete values, at a public function's boundary; inside
a trace (``jit``, ``vmap``, ``grad``) the value checks are skipped and only
shapes and dtypes are checked. A finiteness check reduces on the device and
brings one boolean to the host, never the array.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ("all_finite", "check_finite", "check_images", "check_in_box", "check_in_range",
           "check_key", "check_model_input", "check_non_negative", "check_non_negative_int",
           "check_positive_int",
           "check_targets", "is_concrete")


def is_concrete(x: Any) -> bool:
  """True unless ``x`` is a tracer (its values are unknown inside a trace)."""
  return not isinstance(x, jax.core.Tracer)


@jax.jit
def _all_finite_on_device(x: jax.Array) -> jax.Array:
  return jnp.all(jnp.isfinite(x))


def all_finite(x: jax.typing.ArrayLike) -> bool:
  """Whether every value of a concrete array is finite (reduced where it lives).

  Also under an outer trace: the reduction of a concrete array runs eagerly
  (``jax.ensure_compile_time_eval``) instead of being staged.
  """
  if isinstance(x, jax.Array):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
      return True
    with jax.ensure_compile_time_eval():
      return bool(_all_finite_on_device(x))
  arr = np.asarray(x)
  return not np.issubdtype(arr.dtype, np.inexact) or bool(np.all(np.isfinite(arr)))


def check_finite(x: jax.typing.ArrayLike, name: str = "x") -> None:
  """Raises ValueError if a concrete ``x`` holds NaN or Inf (no-op on tracers)."""
  if is_concrete(x) and not all_finite(x):
    raise ValueError(f"{name} contains NaN or Inf values.")


def check_positive_int(value: Any, name: str) -> int:
  """``value`` as an int, or a ValueError naming ``name``.

  Accepts Python and numpy integers >= 1; rejects ``bool`` (``True`` is not a
  count), floats (``2.0``), strings and anything else.

  Args:
    value: the value to check.
    name: how to call it in the message (e.g. ``"steps"``).

  Returns:
    ``int(value)``.

  Raises:
    ValueError: ``value`` is not an integer >= 1.
  """
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
    raise ValueError(f"{name} must be a positive int, got {value!r}.")
  return int(value)


def check_non_negative_int(value: Any, name: str) -> int:
  """``value`` as an int, or a ValueError unless it is an integer >= 0 (not a bool)."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
    raise ValueError(f"{name} must be an int >= 0, got {value!r}.")
  return int(value)


def check_non_negative(value: Any, name: str) -> float:
  """``value`` as a float, or a ValueError unless it is a finite real >= 0."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
    raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
  if not np.isfinite(value) or value < 0:
    raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
  return float(value)


def check_in_range(value: Any, name: str, low: float, high: float) -> float:
  """``value`` as a float, or a ValueError unless ``low <= value <= high``."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not (
      low <= value <= high):
    raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}.")
  return float(value)


def check_images(x, *, name: str = "x", rank: int = 4, channels: int | None = None,
                 spatial: Sequence[int] | None = None, check_finite: bool = True):
  """Validates a float image batch ``[B, H, W, C]``.

  Raises:
    ValueError: wrong rank, dtype (must be floating), channels, size, or
      non-finite values (NaN/Inf; checked on concrete values only).
  """
  shape = getattr(x, "shape", None)
  if shape is None:
    raise ValueError(f"{name} must be an array, got {type(x).__name__}.")
  if len(shape) != rank:
    raise ValueError(f"{name} must have rank {rank} ([B, H, W, C]), got shape {tuple(shape)}.")
  if not np.issubdtype(np.dtype(x.dtype), np.floating):
    raise ValueError(f"{name} must be floating point (model input space), got dtype {x.dtype}; "
                     "preprocess uint8 images with meta.preprocess first.")
  if channels is not None and shape[-1] != channels:
    raise ValueError(f"{name} must have {channels} channels, got shape {tuple(shape)}.")
  if spatial is not None and tuple(shape[1:3]) != tuple(spatial):
    raise ValueError(f"{name} must be {tuple(spatial)} spatially, got shape {tuple(shape)}.")
  if check_finite and is_concrete(x) and not all_finite(x):
    raise ValueError(f"{name} contains NaN or Inf values.")


def check_model_input(x, meta):
  """Validates ``x`` against a model's :class:`ModelMeta` (size, channels, dtype)."""
  h, w, c = meta.input_shape
  check_images(x, channels=c, spatial=(h, w))


def check_in_box(x, meta, *, name: str = "x") -> None:
  """Validates images in ``meta``'s input space: channels, dtype, finite, inside the box.

  The box is ``meta.input_bounds`` per channel, with a tolerance of 1e-4 of
  its width for rounding; the min and max are reduced where the values live.

  Raises:
    ValueError: a wrong rank, dtype or channel count, NaN/Inf, or values
      outside the box (the message gives the box and the values' range).
  """
  check_images(x, name=name, channels=meta.input_shape[-1])
  if is_concrete(x):
    low, high = meta.input_bounds
    tol = 1e-4 * float(np.max(high - low))
    if isinstance(x, jax.Array):
      with jax.ensure_compile_time_eval():
        x_min, x_max = np.asarray(jnp.min(x, axis=(0, 1, 2))), np.asarray(jnp.max(x, (0, 1, 2)))
    else:
      x_min, x_max = np.min(x, axis=(0, 1, 2)), np.max(x, axis=(0, 1, 2))
    if np.any(x_min < low - tol) or np.any(x_max > high + tol):
      raise ValueError(f"{name} lies outside the model's input box (input range "
                       f"{low.tolist()} .. {high.tolist()} per channel; got min "
                       f"{np.asarray(x_min).tolist()}, max {np.asarray(x_max).tolist()}): "
                       "pass inputs in the model's input space, e.g. "
                       "meta.preprocess(pixels_0_255).")


def check_targets(targets, batch: int, num_logits: int, *, name: str = "targets"):
  """Validates target logit indices: int ``[B]`` or ``[B, T]`` within range."""
  shape = getattr(targets, "shape", None)
  if shape is None or len(shape) not in (1, 2) or shape[0] != batch:
    raise ValueError(f"{name} must have shape [B] or [B, T] with B={batch}, got "
                     f"{None if shape is None else tuple(shape)}.")
  if not np.issubdtype(np.dtype(targets.dtype), np.integer):
    raise ValueError(f"{name} must be integer class indices, got dtype {targets.dtype}.")
  if is_concrete(targets) and targets.size:
    if isinstance(targets, jax.Array):
      with jax.ensure_compile_time_eval():  # eager even inside an outer trace
        low, high = int(jnp.min(targets)), int(jnp.max(targets))
    else:  # host values: reduce on the host (no compile per shape)
      low, high = int(np.min(targets)), int(np.max(targets))
    if low < 0 or high >= num_logits:
      raise ValueError(f"{name} out of range: values must be in [0, {num_logits}), got "
                       f"min {low}, max {high}.")


def check_key(key, name: str = "key"):
  """Raises ValueError unless ``key`` is a single JAX PRNG key (typed or raw)."""
  dtype = getattr(key, "dtype", None)
  shape = getattr(key, "shape", None)
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
    return
  if dtype == jnp.uint32 and shape is not None and len(shape) == 1 and shape[0] in (2, 4):
    return
  raise ValueError(f"{name} must be a single PRNG key (jax.random.key(seed) or "
                   f"jax.random.PRNGKey(seed)), got {type(key).__name__} with shape {shape} "
                   f"and dtype {dtype}.")
