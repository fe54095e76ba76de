"""pooling.max_pool2d: the fast form equals flax's max_pool, switches included."""

import functools

import flax.linen as nn
import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz import attribution
from jaxviz.models import pooling
from jaxviz.models import small_cnn


def _native(x, window):
  return nn.max_pool(x, (window, window), strides=(window, window), padding="VALID")


def _value_and_vjp(pool):
  def f(x, g):
    y, vjp = jax.vjp(pool, x)
    return y, vjp(g)[0]
  return jax.jit(f)


@pytest.mark.parametrize("shape,window", [((2, 8, 8, 3), 2), ((2, 7, 9, 4), 2), ((1, 9, 10, 2), 3),
                                          ((3, 5, 5, 1), 5), ((1, 4, 6, 2), 1)])
@pytest.mark.parametrize("ties", [False, True])
def test_value_and_gradient_match_native(shape, window, ties):
  rng = np.random.default_rng(0)
  # With ties, values are 0/1/2 and many windows are all zero (as after a
  # ReLU): the gradient must go to the same switch (the first maximum).
  x = rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)
  x = jnp.asarray(x, jnp.float32)
  out_shape = (shape[0], shape[1] // window, shape[2] // window, shape[3])
  g = jnp.asarray(rng.standard_normal(out_shape), jnp.float32)
  y, dx = _value_and_vjp(lambda a: pooling.max_pool2d(a, window, impl="fast"))(x, g)
  y_ref, dx_ref = _value_and_vjp(lambda a: _native(a, window))(x, g)
  assert y.shape == out_shape
  np.testing.assert_array_equal(np.asarray(y), np.asarray(y_ref))
  np.testing.assert_array_equal(np.asarray(dx), np.asarray(dx_ref))


def test_each_window_routes_its_gradient_to_exactly_one_input():
  x = jnp.zeros((1, 4, 4, 1))
  dx = jax.grad(lambda a: jnp.sum(pooling.max_pool2d(a, 2, impl="fast")))(x)
  np.testing.assert_array_equal(np.asarray(dx[0, :, :, 0]),
                                [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


def test_vmapped_vjp_matches_native():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.integers(0, 3, (2, 6, 6, 3)), jnp.float32)
  cotangents = jnp.asarray(rng.standard_normal((5, 2, 3, 3, 3)), jnp.float32)

  def vmapped(pool):
    _, vjp = jax.vjp(pool, x)
    return jax.jit(jax.vmap(vjp))(cotangents)[0]

  np.testing.assert_array_equal(np.asarray(vmapped(lambda a: pooling.max_pool2d(a, 2, "fast"))),
                                np.asarray(vmapped(lambda a: _native(a, 2))))


def test_switches_survive_recomputation_of_the_pooled_values():
  # XLA may recompute a fused producer (here a few-channel conv) in several
  # fusions that round differently; the switches must still be the first
  # maxima of one consistent set of values. (Comparing recomputed taps with
  # the max once sent gradients to no input of some windows in SmallCNN.)
  x = jnp.asarray(np.random.default_rng(4).uniform(0, 1, (2, 28, 28, 1)), jnp.float32)
  params = small_cnn.SmallCNN().init(jax.random.key(0), x)["params"]
  targets = np.array([1, 8])
  grads = {impl: attribution.input_gradients(
      functools.partial(small_cnn.SmallCNN(impl=impl).apply, {"params": params}), x, targets)
           for impl in ("fast", "native")}
  np.testing.assert_allclose(np.asarray(grads["fast"]), np.asarray(grads["native"]),
                             atol=1e-5 * float(np.abs(grads["native"]).max()))


def test_second_order_by_finite_differences():
  x = jnp.asarray(np.random.default_rng(2).standard_normal((1, 4, 6, 2)), jnp.float32)
  jtu.check_grads(lambda a: jnp.sin(pooling.max_pool2d(a, 2, "fast")), (x,), order=2,
                  modes=["rev"], eps=1e-3)


def test_native_impl_is_flax_max_pool():
  x = jnp.asarray(np.random.default_rng(3).standard_normal((2, 6, 6, 2)), jnp.float32)
  hlo = jax.jit(lambda a: pooling.max_pool2d(a, 2, "native")).lower(x).as_text()
  assert "reduce_window" in hlo


@pytest.mark.parametrize("shape,window,impl,match", [
    ((6, 6, 2), 2, "fast", r"x of shape \[B, H, W, C\]"),
    ((1, 6, 6, 2), 0, "fast", "window must be a positive int"),
    ((1, 6, 6, 2), 2.0, "fast", "window must be a positive int"),
    ((1, 6, 3, 2), 4, "fast", "larger than the input"),
    ((1, 6, 6, 2), 2, "quick", "Unknown conv impl"),
])
def test_rejects_bad_input(shape, window, impl, match):
  with pytest.raises(ValueError, match=match):
    pooling.max_pool2d(jnp.zeros(shape), window, impl=impl)
