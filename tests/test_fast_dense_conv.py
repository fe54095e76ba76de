"""Dense-conv fast paths (few input channels; loop-safe gradient) equal lax.conv."""

import functools

import jax
from jax import lax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.models import conv_ops
from jaxviz.models import fast_conv


def _rand(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _close(actual, desired, rtol=1e-5):
  desired = np.asarray(desired)
  atol = rtol * max(float(np.abs(desired).max()), 1.0)
  np.testing.assert_allclose(np.asarray(actual), desired, rtol=rtol, atol=atol)


def _value_and_vjp(conv):
  """jit(x, kernel, g -> (conv(x, kernel), vjp(g)))."""
  def f(x, kernel, g):
    y, vjp = jax.vjp(conv, x, kernel)
    return y, vjp(g)
  return jax.jit(f)


def _check_against_native(conv, x, kernel, stride, padding, seed):
  native = lambda a, k: conv_ops.conv2d_native(a, k, stride, padding)
  out_shape = jax.eval_shape(native, x, kernel).shape
  g = _rand(seed, out_shape)
  y, (dx, dk) = _value_and_vjp(conv)(x, kernel, g)
  y_ref, (dx_ref, dk_ref) = _value_and_vjp(native)(x, kernel, g)
  assert y.shape == out_shape
  _close(y, y_ref)
  _close(dx, dx_ref)
  _close(dk, dk_ref)


# (H, W, kh, kw, stride, I, O): I from 1 to FEW_CHANNELS, odd/even sizes,
# strides 1-3, square/rectangular/even kernels, inputs smaller than the kernel.
FEW_SHAPES = [
    (7, 7, 3, 3, 1, 1, 4), (8, 8, 3, 3, 2, 3, 5), (9, 6, 5, 5, 1, 2, 3), (8, 7, 5, 5, 2, 4, 2),
    (2, 3, 3, 3, 2, 1, 3), (7, 9, 1, 3, 2, 3, 2), (6, 7, 2, 4, 1, 2, 6), (10, 11, 3, 3, 3, 1, 1),
    (12, 12, 7, 7, 2, 3, 4),
]


@pytest.mark.parametrize("h,w,kh,kw,stride,cin,cout", FEW_SHAPES)
def test_few_channel_forward_and_vjp_match_native(h, w, kh, kw, stride, cin, cout):
  x = _rand(0, (2, h, w, cin))
  kernel = _rand(1, (kh, kw, cin, cout))
  conv = lambda a, k: fast_conv.few_channel_conv2d(a, k, stride)
  _check_against_native(conv, x, kernel, stride, "SAME", seed=2)


# (H, W, kh, kw, stride, I, O, padding).
DENSE_CASES = [
    (7, 7, 3, 3, 1, 6, 4, "SAME"), (8, 9, 3, 3, 2, 5, 3, "SAME"), (9, 8, 3, 3, 2, 8, 2, "VALID"),
    (6, 7, 5, 5, 1, 5, 3, "VALID"), (8, 8, 4, 2, 3, 6, 4, "SAME"), (7, 6, 3, 3, 1, 2, 3, "VALID"),
    (9, 9, 3, 3, 2, 5, 2, ((1, 0), (0, 2))), (5, 5, 1, 1, 2, 6, 3, "SAME"),
]


@pytest.mark.parametrize("h,w,kh,kw,stride,cin,cout,padding", DENSE_CASES)
def test_dense_forward_and_vjp_match_native(h, w, kh, kw, stride, cin, cout, padding):
  x = _rand(3, (2, h, w, cin))
  kernel = _rand(4, (kh, kw, cin, cout))
  conv = lambda a, k: fast_conv.dense_conv2d(a, k, stride, padding)
  _check_against_native(conv, x, kernel, stride, padding, seed=5)


@pytest.mark.parametrize("conv", [
    lambda a, k: fast_conv.few_channel_conv2d(a, k, 2),
    lambda a, k: fast_conv.dense_conv2d(a, k, 2, "SAME"),
], ids=["few_channel", "dense"])
def test_grads_by_finite_differences(conv):
  x = _rand(6, (1, 5, 4, 2))
  kernel = _rand(7, (3, 3, 2, 3))
  jtu.check_grads(jax.jit(conv), (x, kernel), order=2, modes=["rev"], eps=1e-2)


@pytest.mark.parametrize("cin", [1, 3, 6])
def test_gradient_inside_scan_and_under_vmap_matches_native(cin):
  # Chunked IG/SmoothGrad take gradients inside lax.scan and vmap over
  # cotangents; both must give the native numbers.
  x = _rand(8, (2, 8, 7, cin))
  kernel = _rand(9, (3, 3, cin, 4))
  scales = jnp.linspace(0.5, 1.5, 3)
  cotangents = _rand(10, (5, 2, 4, 4, 4))

  @functools.partial(jax.jit, static_argnums=0)
  def run(impl, x, kernel):
    conv = lambda a: conv_ops.conv2d(a, kernel, 2, "SAME", impl=impl)
    def body(total, s):
      return total + jax.grad(lambda a: jnp.sum(jnp.tanh(conv(s * a))))(x), None
    summed, _ = lax.scan(body, jnp.zeros_like(x), scales)
    _, vjp = jax.vjp(conv, x)
    return summed, jax.vmap(vjp)(cotangents)[0]

  for got, want in zip(run("fast", x, kernel), run("native", x, kernel)):
    _close(got, want)


@pytest.mark.parametrize("cin,expected", [(1, "few_channel_conv2d"), (4, "few_channel_conv2d"),
                                          (5, "dense_conv2d")])
def test_conv_ops_dispatches_by_input_channels(monkeypatch, cin, expected):
  calls = []
  for name in ("few_channel_conv2d", "dense_conv2d"):
    original = getattr(fast_conv, name)
    def spy(*args, _name=name, _original=original, **kwargs):
      calls.append(_name)
      return _original(*args, **kwargs)
    monkeypatch.setattr(fast_conv, name, spy)
  x = _rand(11, (1, 6, 6, cin))
  kernel = _rand(12, (3, 3, cin, 2))
  _close(conv_ops.conv2d(x, kernel, 1, "SAME", impl="fast"),
         conv_ops.conv2d_native(x, kernel, 1, "SAME"))
  assert calls == [expected]


@pytest.mark.parametrize("fn,x_shape,k_shape,stride,match", [
    (fast_conv.few_channel_conv2d, (5, 5, 1), (3, 3, 1, 2), 1, "x of shape"),
    (fast_conv.few_channel_conv2d, (1, 5, 5, 2), (3, 3, 1, 2), 1, r"kernel of shape \[kh, kw, 2, O\]"),
    (fast_conv.few_channel_conv2d, (1, 5, 5, 6), (3, 3, 6, 2), 1, "1 to 4 input channels"),
    (fast_conv.few_channel_conv2d, (1, 5, 5, 2), (3, 3, 2, 2), 0, "stride must be a positive int"),
    (fast_conv.dense_conv2d, (1, 5, 5, 6), (3, 3, 5, 2), 1, r"kernel of shape \[kh, kw, 6, O\]"),
    (fast_conv.dense_conv2d, (1, 5, 5, 6), (3, 3, 6, 2), 1.5, "stride must be a positive int"),
])
def test_rejects_bad_input(fn, x_shape, k_shape, stride, match):
  with pytest.raises(ValueError, match=match):
    fn(jnp.zeros(x_shape), jnp.zeros(k_shape), stride)
