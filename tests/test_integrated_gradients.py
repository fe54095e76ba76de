"""Tests for jaxviz.attribution.integrated_gradients (analytic toy models)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution.path_integrals import integrated_gradients
from jaxviz.attribution.path_integrals import integration_points
from jaxviz.attribution.path_integrals import METHODS

SHAPE = (2, 3, 3, 2)
X = jax.random.uniform(jax.random.PRNGKey(0), SHAPE)
W1 = jax.random.normal(jax.random.PRNGKey(1), (18, 8))
W2 = jax.random.normal(jax.random.PRNGKey(2), (8, 4))
T = jnp.array([1, 3])


def smooth_model(x):
  """A smooth nonlinear toy network."""
  return jnp.tanh(x.reshape(x.shape[0], -1) @ W1) @ W2 + jnp.sin(x).sum((1, 2, 3))[:, None]


def linear_model(x):
  return x.reshape(x.shape[0], -1) @ W1[:, :4]


@pytest.mark.parametrize("method", METHODS)
def test_linear_model_is_exact(method):
  x0 = jax.random.uniform(jax.random.PRNGKey(3), SHAPE)
  attr = integrated_gradients(linear_model, X, T, baseline=x0, steps=5, chunk_size=2,
                              method=method)
  expected = (X - x0) * W1[:, T].T.reshape(SHAPE)
  np.testing.assert_allclose(attr, expected, rtol=1e-5, atol=1e-6)


def _completeness_error(steps, method):
  attr = integrated_gradients(smooth_model, X, T, steps=steps, chunk_size=8, method=method)
  gap = (jnp.take_along_axis(smooth_model(X), T[:, None], 1)[:, 0]
         - jnp.take_along_axis(smooth_model(jnp.zeros_like(X)), T[:, None], 1)[:, 0])
  return float(jnp.max(jnp.abs(attr.sum((1, 2, 3)) - gap)))


def test_completeness_error_shrinks_with_steps():
  errors = [_completeness_error(steps, "riemann_trapezoid") for steps in (3, 9, 33)]
  # Trapezoid error is O(h^2): h shrinks 4x per step here, so about 16x less error.
  assert errors[0] > 1e-2
  assert errors[1] < errors[0] / 6 and errors[2] < errors[1] / 6
  assert _completeness_error(9, "riemann_left") > _completeness_error(33, "riemann_left") * 2
  assert _completeness_error(12, "gausslegendre") < 1e-4


@pytest.mark.parametrize("chunk_size", [1, 5])
def test_chunking_does_not_change_result(chunk_size):
  ref = integrated_gradients(smooth_model, X, T, steps=12, chunk_size=12)
  out = integrated_gradients(smooth_model, X, T, steps=12, chunk_size=chunk_size)
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_multiple_targets_and_baseline_broadcasting():
  targets = jnp.array([[0, 3, 1], [2, 2, 0]])
  multi = integrated_gradients(smooth_model, X, targets, baseline=0.25, steps=6)
  assert multi.shape == (2, 3) + SHAPE[1:]
  full = jnp.full(SHAPE, 0.25)
  for t in range(3):
    single = integrated_gradients(smooth_model, X, targets[:, t], baseline=full, steps=6)
    np.testing.assert_allclose(multi[:, t], single, rtol=1e-5, atol=1e-6)


def test_jittable_as_a_whole():
  ig = jax.jit(functools.partial(integrated_gradients, smooth_model, steps=6, chunk_size=4))
  np.testing.assert_allclose(ig(X, T, baseline=X * 0.5),
                             integrated_gradients(smooth_model, X, T, baseline=X * 0.5, steps=6,
                                                  chunk_size=4), rtol=1e-5, atol=1e-6)


def test_integration_points():
  for method in METHODS:
    alphas, weights = integration_points(7, method)
    assert alphas.shape == weights.shape == (7,)
    assert np.all((alphas >= 0) & (alphas <= 1))
    np.testing.assert_allclose(weights.sum(), 1.0)
  alphas, weights = integration_points(5, "riemann_trapezoid")
  np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
  np.testing.assert_allclose(weights, [0.125, 0.25, 0.25, 0.25, 0.125])
  # Gauss-Legendre with n nodes integrates degree 2n - 1 exactly: int_0^1 a^7 = 1/8.
  alphas, weights = integration_points(4, "gausslegendre")
  np.testing.assert_allclose(np.sum(weights * alphas**7), 1 / 8, rtol=1e-12)


def test_matches_captum():
  torch = pytest.importorskip("torch")
  captum_attr = pytest.importorskip("captum.attr")
  w1, w2 = torch.tensor(np.asarray(W1)), torch.tensor(np.asarray(W2))

  def torch_model(x):
    return (torch.tanh(x.reshape(x.shape[0], -1) @ w1) @ w2
            + torch.sin(x).sum((1, 2, 3))[:, None])

  ig = captum_attr.IntegratedGradients(torch_model)
  x0 = 0.1 * np.ones(SHAPE, np.float32)
  for method in ("riemann_left", "riemann_middle", "gausslegendre"):
    ref = ig.attribute(torch.tensor(np.asarray(X)), baselines=torch.tensor(x0),
                       target=torch.tensor(np.asarray(T)), n_steps=10, method=method)
    out = integrated_gradients(smooth_model, X, T, baseline=x0, steps=10, method=method)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "simpson"}, "Unknown integration method"),
    ({"steps": 1}, "steps must be an int >= 2"),
    ({"steps": 0, "method": "riemann_left"}, "steps must be a positive int"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"baseline": jnp.zeros((2, 3, 3, 3))}, "does not broadcast"),
    ({"baseline": jnp.full(SHAPE, jnp.nan)}, "NaN"),
    ({"targets": jnp.array([0, 4])}, "out of range"),
    ({"targets": jnp.array([[[0]], [[1]]])}, r"\[B\] or \[B, T\]"),
    ({"x": jnp.ones(SHAPE, jnp.int32)}, "floating point"),
])
def test_validation(kwargs, match):
  args = {"x": X, "targets": T}
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    integrated_gradients(smooth_model, args.pop("x"), args.pop("targets"), **args)
