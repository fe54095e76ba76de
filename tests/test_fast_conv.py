"""fast_conv must be the same math as lax.conv_general_dilated, gradients too."""

import functools

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.models import conv_ops
from jaxviz.models import fast_conv


def _rand(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _native_dw(x, kernel, stride):
  return conv_ops.conv2d_native(x, kernel, stride, "SAME", groups=x.shape[-1])


def _close(actual, desired, rtol=1e-5):
  desired = np.asarray(desired)
  atol = rtol * max(float(np.abs(desired).max()), 1.0)
  np.testing.assert_allclose(np.asarray(actual), desired, rtol=rtol, atol=atol)


# (H, W, kh, kw, stride, C): odd/even sizes, kernels 3 and 5, strides 1 and 2,
# C from 1 to 8, plus rectangular/even kernels, stride 3 and inputs smaller
# than the kernel.
SHAPES = [
    (7, 7, 3, 3, 1, 1), (8, 8, 3, 3, 1, 2), (7, 8, 3, 3, 2, 3), (8, 8, 3, 3, 2, 4),
    (9, 6, 5, 5, 1, 5), (8, 7, 5, 5, 2, 6), (6, 6, 5, 5, 2, 7), (2, 3, 3, 3, 2, 8),
    (1, 1, 3, 3, 1, 3), (7, 9, 1, 3, 2, 2), (6, 7, 2, 4, 1, 4), (10, 11, 3, 3, 3, 1),
]


def _value_and_vjp(conv, stride):
  """jit(x, kernel, g -> (conv(x, kernel), vjp(g))): one compile per shape."""
  def f(x, kernel, g):
    y, vjp = jax.vjp(lambda a, k: conv(a, k, stride), x, kernel)
    return y, vjp(g)
  return jax.jit(f)


@pytest.mark.parametrize("h,w,kh,kw,stride,channels", SHAPES)
def test_depthwise_forward_and_vjp_match_native(h, w, kh, kw, stride, channels):
  x = _rand(0, (2, h, w, channels))
  kernel = _rand(1, (kh, kw, 1, channels))
  g = _rand(2, (2, -(-h // stride), -(-w // stride), channels))
  y, (dx, dk) = _value_and_vjp(fast_conv.depthwise_conv2d, stride)(x, kernel, g)
  y_ref, (dx_ref, dk_ref) = _value_and_vjp(_native_dw, stride)(x, kernel, g)
  assert y.shape == y_ref.shape == g.shape
  _close(y, y_ref)
  _close(dx, dx_ref)
  _close(dk, dk_ref)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_grads_by_finite_differences(stride):
  x = _rand(5, (1, 5, 4, 2))
  kernel = _rand(6, (3, 3, 1, 2))
  jtu.check_grads(jax.jit(lambda a, k: fast_conv.depthwise_conv2d(a, k, stride)), (x, kernel),
                  order=2, modes=["rev"], eps=1e-2)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_second_order_matches_native(stride):
  x = _rand(7, (2, 7, 6, 3))
  kernel = _rand(8, (3, 3, 1, 3))

  def grad_norm(conv):
    def f(a, k):
      ga, gk = jax.grad(lambda a, k: jnp.sum(jnp.sin(conv(a, k, stride))), (0, 1))(a, k)
      return jnp.sum(ga ** 2) + jnp.sum(gk ** 2)
    return jax.jit(jax.grad(f, (0, 1)))(x, kernel)

  for got, want in zip(grad_norm(fast_conv.depthwise_conv2d), grad_norm(_native_dw)):
    _close(got, want, rtol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_vmap_over_cotangents_matches_native(stride):
  x = _rand(9, (2, 8, 7, 4))
  kernel = _rand(10, (3, 3, 1, 4))
  gs = _rand(11, (6, 2, 8 // stride, -(-7 // stride), 4))

  @jax.jit
  def vmapped_vjp(a, k, cotangents):
    _, vjp = jax.vjp(lambda a, k: fast_conv.depthwise_conv2d(a, k, stride), a, k)
    return jax.vmap(vjp)(cotangents)

  got = vmapped_vjp(x, kernel, gs)
  ref = _value_and_vjp(_native_dw, stride)
  for n in range(gs.shape[0]):
    _, want = ref(x, kernel, gs[n])
    _close(got[0][n], want[0])
    _close(got[1][n], want[1])


def test_vmap_over_inputs_and_kernels():
  xs = _rand(12, (3, 2, 6, 6, 4))
  kernels = _rand(13, (3, 3, 3, 1, 4))
  got = jax.jit(jax.vmap(lambda a, k: fast_conv.depthwise_conv2d(a, k, 2)))(xs, kernels)
  want = jax.jit(jax.vmap(lambda a, k: _native_dw(a, k, 2)))(xs, kernels)
  _close(got, want)


def test_jit_forward_and_grad_match_eager():
  x = _rand(14, (2, 9, 9, 6))
  kernel = _rand(15, (3, 3, 1, 6))
  conv = jax.jit(fast_conv.depthwise_conv2d, static_argnums=2)
  _close(conv(x, kernel, 2), fast_conv.depthwise_conv2d(x, kernel, 2))
  loss = lambda a, k: jnp.sum(fast_conv.depthwise_conv2d(a, k, 2) ** 2)
  loss_ref = lambda a, k: jnp.sum(_native_dw(a, k, 2) ** 2)
  got = jax.jit(jax.grad(loss, (0, 1)))(x, kernel)
  want = jax.jit(jax.grad(loss_ref, (0, 1)))(x, kernel)
  _close(got[0], want[0])
  _close(got[1], want[1])


def test_input_grad_alone_skips_kernel_grad():
  # grad wrt x only must not compute the kernel-gradient reductions.
  x = _rand(16, (1, 6, 6, 2))
  kernel = _rand(17, (3, 3, 1, 2))
  f = jax.grad(lambda a: jnp.vdot(fast_conv.depthwise_conv2d(a, kernel, 2), a[:, ::2, ::2]))
  hlo = jax.jit(f).lower(x).compile().as_text()
  assert "reduce(" not in hlo
  f_ref = jax.grad(lambda a: jnp.vdot(_native_dw(a, kernel, 2), a[:, ::2, ::2]))
  _close(jax.jit(f)(x), jax.jit(f_ref)(x))


@pytest.mark.parametrize("h,w,cin,cout", [(5, 7, 3, 4), (1, 1, 8, 1), (4, 4, 1, 6)])
def test_pointwise_matches_native(h, w, cin, cout):
  x = _rand(18, (2, h, w, cin))
  kernel = _rand(19, (1, 1, cin, cout))
  g = _rand(20, (2, h, w, cout))
  y, (dx, dk) = _value_and_vjp(lambda a, k, _: fast_conv.pointwise_conv2d(a, k), 1)(x, kernel, g)
  y_ref, (dx_ref, dk_ref) = _value_and_vjp(conv_ops.conv2d_native, 1)(x, kernel, g)
  _close(y, y_ref)
  _close(dx, dx_ref)
  _close(dk, dk_ref)


@pytest.mark.parametrize("x_shape,k_shape,stride,match", [
    ((2, 5, 5), (3, 3, 1, 5), 1, "x of shape"),
    ((1, 5, 5, 4), (3, 3, 4), 1, r"kernel of shape \[kh, kw, 1, 4\]"),
    ((1, 5, 5, 4), (3, 3, 2, 4), 1, r"kernel of shape \[kh, kw, 1, 4\]"),
    ((1, 5, 5, 4), (3, 3, 1, 3), 1, r"kernel of shape \[kh, kw, 1, 4\]"),
    ((1, 5, 5, 4), (3, 3, 1, 4), 0, "stride must be a positive int"),
    ((1, 5, 5, 4), (3, 3, 1, 4), 1.5, "stride must be a positive int"),
])
def test_depthwise_rejects_bad_input(x_shape, k_shape, stride, match):
  with pytest.raises(ValueError, match=match):
    fast_conv.depthwise_conv2d(jnp.zeros(x_shape), jnp.zeros(k_shape), stride)


@pytest.mark.parametrize("x_shape,k_shape,match", [
    ((5, 5, 4), (1, 1, 4, 2), "x of shape"),
    ((1, 5, 5, 4), (3, 3, 4, 2), r"kernel of shape \[1, 1, 4, O\]"),
    ((1, 5, 5, 4), (1, 1, 3, 2), r"kernel of shape \[1, 1, 4, O\]"),
])
def test_pointwise_rejects_bad_input(x_shape, k_shape, match):
  with pytest.raises(ValueError, match=match):
    fast_conv.pointwise_conv2d(jnp.zeros(x_shape), jnp.zeros(k_shape))


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 0), (0, 2))])
def test_conv_ops_fast_dispatch_matches_native(padding):
  x = _rand(21, (2, 6, 5, 3))
  k1 = _rand(22, (1, 1, 3, 4))
  kd = _rand(23, (3, 3, 1, 3))

  @functools.partial(jax.jit, static_argnums=0)
  def convs(impl, x, k1, kd):
    return (conv_ops.conv2d(x, k1, 1, padding, impl=impl),
            conv_ops.depthwise_conv2d(x, kd, 1, padding, impl=impl),
            conv_ops.depthwise_conv2d(x, kd, 2, padding, impl=impl))

  for got, want in zip(convs("fast", x, k1, kd), convs("native", x, k1, kd)):
    _close(got, want)
