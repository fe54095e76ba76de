"""Tests for jaxviz.attribution.smoothgrad (analytic toy models).

Each distinct (method, f, options, shapes) compiles once (about 2 s of CPU
for the threefry noise), so the tests share F, X and the options where they
can.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution import smoothgrad
from jaxviz.validation import check_key

KEY = jax.random.PRNGKey(0)


def gradient(f, x, targets):
  """Toy attribution method: d f(x)[b, t] / d x, [B, H, W, C] or [B, T, H, W, C]."""
  def grad_for(t):
    return jax.grad(lambda x: jnp.sum(jnp.take_along_axis(f(x), t[:, None], axis=1)))(x)
  if targets.ndim == 1:
    return grad_for(targets)
  return jax.vmap(grad_for, in_axes=1, out_axes=1)(targets)


def channel_sum_map(f, x, targets):
  """Toy [B, H, W] method."""
  return gradient(f, x, targets).sum(-1)


def linear_model(w):
  return lambda x: x.reshape(x.shape[0], -1) @ w


def cubic_model(w):
  return lambda x: (x**3).reshape(x.shape[0], -1) @ w


_x = np.random.default_rng(1).uniform(0, 1, (2, 3, 3, 2)).astype(np.float32)
_x[1] *= 3.0  # Different value ranges, so different noise levels per image.
X = jnp.asarray(_x)
T = jnp.array([1, 2])
F = cubic_model(jax.random.normal(jax.random.PRNGKey(1), (18, 4)))
OPTIONS = {"num_samples": 20, "chunk_size": 7}  # 3 chunks of 7, one padding sample.


def test_zero_noise_reproduces_method():
  out = smoothgrad(gradient, F, X, T, key=KEY, noise_level=0.0, **OPTIONS)
  np.testing.assert_allclose(out, gradient(F, X, T), rtol=1e-6)


def test_matches_per_sample_loop_reference():
  level, n = 0.2, OPTIONS["num_samples"]
  sigma = level * (X.max(axis=(1, 2, 3)) - X.min(axis=(1, 2, 3)))[:, None, None, None]
  ref = sum(gradient(F, X + sigma * jax.random.normal(jax.random.fold_in(KEY, i), X.shape), T)
            for i in range(n)) / n
  out = smoothgrad(gradient, F, X, T, key=KEY, noise_level=level, **OPTIONS)
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 20])
def test_result_independent_of_chunk_size(chunk_size):
  ref = smoothgrad(gradient, F, X, T, key=KEY, **OPTIONS)
  out = smoothgrad(gradient, F, X, T, key=KEY, num_samples=20, chunk_size=chunk_size)
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_linear_model_squared_is_square_of_constant_gradient():
  w = jax.random.normal(jax.random.PRNGKey(2), (18, 3))
  t = jnp.array([2, 0])
  expected = w[:, t].T.reshape(X.shape)
  out = smoothgrad(gradient, linear_model(w), X, t, key=KEY, noise_level=0.5, squared=True,
                   **OPTIONS)
  np.testing.assert_allclose(out, expected**2, rtol=1e-5)


def test_cubic_model_matches_expectation_with_per_image_sigma():
  # d/dx (w x^3) = 3 w x^2, whose mean over x + N(0, s^2) is 3 w (x^2 + s^2).
  x = jnp.array([[[0.0, 1.0], [0.5, 0.2]], [[-3.0, 0.1], [0.0, 3.0]]])[..., None]
  w = jnp.array([[1.0], [-2.0], [0.5], [3.0]])
  level, n = 0.15, 4000
  out = smoothgrad(gradient, cubic_model(w), x, jnp.array([0, 0]), key=KEY, num_samples=n,
                   noise_level=level, chunk_size=1000)
  s = level * jnp.array([1.0, 6.0])[:, None, None, None]  # level * (max - min) per image.
  wx = w[:, 0].reshape(1, 2, 2, 1)
  expected = 3 * wx * (x**2 + s**2)
  # Standard error of the mean of 3 w (x + n)^2: std = 3 |w| sqrt(4 x^2 s^2 + 2 s^4).
  stderr = 3 * jnp.abs(wx) * jnp.sqrt(4 * x**2 * s**2 + 2 * s**4) / np.sqrt(n)
  assert np.all(np.abs(out - expected) < 5 * stderr)
  # At x = 0 the plain gradient is 0 while the smoothed one is 3 w s^2: far apart in
  # units of the standard error, so the test tells the per-image sigma apart.
  assert np.abs(out[1, 1, 0, 0]) > 30 * stderr[1, 1, 0, 0]
  assert abs(out[1, 1, 0, 0] - 3 * 0.5 * 0.9**2) < 5 * stderr[1, 1, 0, 0]


def test_map_methods_and_multiple_targets():
  maps = smoothgrad(channel_sum_map, F, X, T, key=KEY, **OPTIONS)
  full = smoothgrad(gradient, F, X, T, key=KEY, **OPTIONS)
  np.testing.assert_allclose(maps, full.sum(-1), rtol=1e-5, atol=1e-6)
  targets = jnp.array([[0, 1, 3], [2, 2, 1]])
  multi = smoothgrad(gradient, F, X, targets, key=KEY, **OPTIONS)
  assert multi.shape == (2, 3, 3, 3, 2)
  np.testing.assert_allclose(multi[:, 0], smoothgrad(gradient, F, X, targets[:, 0], key=KEY,
                                                     **OPTIONS), rtol=1e-5, atol=1e-6)


def test_jittable_and_key_dependent():
  smooth = jax.jit(functools.partial(smoothgrad, gradient, F, **OPTIONS))
  np.testing.assert_allclose(smooth(X, T, key=KEY),
                             smoothgrad(gradient, F, X, T, key=KEY, **OPTIONS),
                             rtol=1e-5, atol=1e-6)
  assert not np.allclose(smooth(X, T, key=jax.random.PRNGKey(5)), smooth(X, T, key=KEY))


def test_check_key_accepts_typed_and_raw_keys():
  check_key(jax.random.key(0))
  check_key(jax.random.PRNGKey(0))
  for bad in (0, jnp.zeros(2), jax.random.split(KEY, 3)):
    with pytest.raises(ValueError, match="PRNG key"):
      check_key(bad)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_samples": 0}, "num_samples"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"noise_level": -0.1}, "noise_level"),
    ({"key": 3}, "PRNG key"),
    ({"x": jnp.ones((3, 3, 2))}, "rank 4"),
    ({"targets": jnp.array([0, 9])}, "out of range"),
    ({"targets": jnp.array([0.0, 1.0])}, "integer"),
])
def test_validation(kwargs, match):
  args = {"x": X, "targets": T, "key": KEY}
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    smoothgrad(gradient, F, args.pop("x"), args.pop("targets"), **args)
