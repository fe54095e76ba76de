"""Input checks shared by every method: clear errors before any work."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def check_images(x, *, name: str = "x", rank: int = 4, channels: int | None = None,
                 spatial: Sequence[int] | None = None, check_finite: bool = True):
  """Validates a float image batch ``[B, H, W, C]``.

  Raises:
    ValueError: wrong rank, dtype (must be floating), channels, size, or
      non-finite values (NaN/Inf).
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
  if check_finite and not isinstance(x, jax.core.Tracer):
    if not bool(np.all(np.isfinite(np.asarray(x)))):
      raise ValueError(f"{name} contains NaN or Inf values.")


def check_model_input(x, meta):
  """Validates ``x`` against a model's :class:`ModelMeta` (size, channels, dtype)."""
  h, w, c = meta.input_shape
  check_images(x, channels=c, spatial=(h, w))


def check_targets(targets, batch: int, num_logits: int, *, name: str = "targets"):
  """Validates target logit indices: int ``[B]`` or ``[B, T]`` within range."""
  t = np.asarray(targets) if not isinstance(targets, jax.core.Tracer) else None
  shape = getattr(targets, "shape", None)
  if shape is None or len(shape) not in (1, 2) or shape[0] != batch:
    raise ValueError(f"{name} must have shape [B] or [B, T] with B={batch}, got "
                     f"{None if shape is None else tuple(shape)}.")
  if not np.issubdtype(np.dtype(targets.dtype), np.integer):
    raise ValueError(f"{name} must be integer class indices, got dtype {targets.dtype}.")
  if t is not None and (t.min() < 0 or t.max() >= num_logits):
    raise ValueError(f"{name} out of range: values must be in [0, {num_logits}), got "
                     f"min {t.min()}, max {t.max()}.")


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
