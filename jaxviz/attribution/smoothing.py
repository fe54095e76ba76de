"""SmoothGrad: average any attribution method over noisy copies of the input.

Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise",
https://arxiv.org/abs/1706.03825.

The wrapper is written once for every attribution method that follows the
jaxviz convention ``method(f, x, targets) -> attr`` (plain gradient, guided
backprop, input x gradient, Grad-CAM, integrated gradients, ...; bind extra
options with :func:`functools.partial`). For each image the noise is
Gaussian with standard deviation ``noise_level * (max(x_b) - min(x_b))`` (the
paper's "noise level" relative to the image's value range; 10-20% is the
recommended range, 15% the default here). Sample ``i`` draws its noise from
``jax.random.fold_in(key, i)``, so with the default (threefry) keys the result
for a given key does not depend on ``chunk_size`` (up to floating point
summation order); "rbg" keys draw differently under ``vmap``, so there it
does.

Memory stays bounded: the samples are summed ``chunk_size`` at a time by
:func:`jaxviz.chunking.chunked_sum` (``jax.vmap`` within a chunk,
:func:`jax.lax.scan` over chunks), so peak memory is that of ``chunk_size``
simultaneous calls of ``method`` whatever ``num_samples`` is.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp

from jaxviz import chunking
from jaxviz import validation
from jaxviz.attribution import gradients

__all__ = ("Method", "smoothgrad")

Method = Callable[[Callable[[jax.Array], jax.Array], jax.Array, jax.Array], jax.Array]


def smoothgrad(method: Method, f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
               targets: jax.typing.ArrayLike, *, key: jax.Array, num_samples: int = 50,
               noise_level: float = 0.15, chunk_size: int = 16,
               squared: bool = False) -> jax.Array:
  """SmoothGrad of ``method``: its mean over Gaussian-noised copies of ``x``.

  Compiled internally and cached per (``method``, ``f``, ``num_samples``,
  ``chunk_size``, ``squared``, shapes): pass the same ``f`` object to reuse
  the compilation. Also jittable as a whole with those arguments static (bind
  them with :func:`functools.partial` before :func:`jax.jit`).

  Args:
    method: attribution method ``method(f, x, targets) -> attr``.
    f: model function ``x [B, H, W, C] -> logits [B, K]``.
    x: input images ``[B, H, W, C]`` in the model's input space.
    targets: int target logits ``[B]`` or ``[B, T]``.
    key: PRNG key for the noise.
    num_samples: number of noisy samples per image (the paper uses 50).
    noise_level: noise standard deviation as a fraction of each image's value
      range ``max(x_b) - min(x_b)``; 0 reproduces ``method`` exactly.
    chunk_size: samples evaluated at once (bounds peak memory).
    squared: average the squared attributions instead (the "SmoothGrad-SQ"
      variant of Hooker et al. 2019, https://arxiv.org/abs/1806.10758).

  Returns:
    The averaged attribution, same shape and dtype as ``method``'s output
    (e.g. ``[B, H, W, C]``, ``[B, H, W]`` or ``[B, T, ...]``).

  Raises:
    ValueError: bad ``x``, ``targets``, ``key`` or options.
  """
  validation.check_images(x)
  validation.check_key(key)
  num_samples = validation.check_positive_int(num_samples, "num_samples")
  chunk_size = validation.check_positive_int(chunk_size, "chunk_size")
  if validation.is_concrete(noise_level):
    validation.check_non_negative(noise_level, "noise_level")
  gradients.prepare_targets(f, x, targets)
  return _smoothgrad(jnp.asarray(x), jnp.asarray(targets), key, noise_level, method=method, f=f,
                     num_samples=num_samples, chunk_size=chunk_size, squared=squared)


@functools.partial(jax.jit, static_argnames=("method", "f", "num_samples", "chunk_size",
                                             "squared"))
def _smoothgrad(x, targets, key, noise_level, *, method, f, num_samples, chunk_size, squared):
  """:func:`smoothgrad` after validation (compiled once per method, f and options)."""
  value_range = jnp.max(x, axis=(1, 2, 3), keepdims=True) - jnp.min(x, axis=(1, 2, 3),
                                                                    keepdims=True)
  sigma = noise_level * value_range

  def attribution(index):
    noise = jax.random.normal(jax.random.fold_in(key, index), x.shape, x.dtype)
    attr = method(f, x + sigma * noise, targets)
    return attr * attr if squared else attr

  total = chunking.chunked_sum(attribution, jnp.arange(num_samples), chunk_size=chunk_size)
  return total / num_samples
