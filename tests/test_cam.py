"""Tests for jaxviz.attribution.cam (Grad-CAM, Guided Grad-CAM)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution import backward_rules
from jaxviz.attribution import cam
from jaxviz.attribution import gradients
from jaxviz.models import small_cnn
from jaxviz.models import taps
from tests import helpers

B, C, K = 2, 3, 5
RNG = np.random.default_rng(0)
X = jnp.asarray(RNG.normal(size=(B, 4, 4, 2)), jnp.float32)
MIX = jnp.asarray(RNG.normal(size=(2, C)), jnp.float32)
U = jnp.asarray(RNG.normal(size=(K, 2, 2, C)), jnp.float32)
V = jnp.asarray(RNG.normal(size=(K, 2, 2, C)), jnp.float32)


def features(x):
  """[B, 4, 4, 2] -> tanh(x @ MIX), 2x2 average-pooled: A [B, 2, 2, C]."""
  a = jnp.tanh(x @ MIX)
  return a.reshape(a.shape[0], 2, 2, 2, 2, C).mean(axis=(2, 4))


def head(a):
  """S_k = sum(U_k A) + sum(V_k A^2) / 2, so d S_k / d A = U_k + V_k A."""
  return jnp.einsum("bhwc,khwc->bk", a, U) + 0.5 * jnp.einsum("bhwc,khwc->bk", a * a, V)


SPLIT = taps.split_layer_fn(features, head)


def _hand_cam(targets, relu=True):
  """Grad-CAM of the toy model in numpy: [B, 2, 2] for targets [B]."""
  a = np.asarray(features(X))
  grads = np.asarray(U)[targets] + np.asarray(V)[targets] * a  # [B, 2, 2, C]
  weights = grads.mean(axis=(1, 2))  # [B, C]
  out = np.einsum("bhwc,bc->bhw", a, weights)
  return np.maximum(out, 0) if relu else out


# Bilinear 2 -> 4 with half-pixel centres and edge clamping (align_corners=False):
# output i samples input coordinate (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25.
UP = np.array([[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]])


@pytest.fixture(scope="module")
def cnn():
  """SmallCNN on 8x8 inputs (conv2 is 4x4): (model, variables, f, x)."""
  model = small_cnn.SmallCNN(channels=(4, 8), hidden=16)
  x = jnp.asarray(np.random.default_rng(1).uniform(size=(B, 8, 8, 1)), jnp.float32)
  variables = helpers.random_variables(model, x, seed=2, kernel_gain=np.sqrt(2.0))
  return model, variables, functools.partial(model.apply, variables), x


def test_hand_computed_low_res_and_signed():
  targets = np.array([1, 3])
  np.testing.assert_allclose(cam.grad_cam(SPLIT, X, jnp.asarray(targets), upsample=False),
                             _hand_cam(targets), rtol=1e-5, atol=1e-6)
  signed = cam.grad_cam(SPLIT, X, jnp.asarray(targets), upsample=False, relu=False)
  np.testing.assert_allclose(signed, _hand_cam(targets, relu=False), rtol=1e-5, atol=1e-6)
  assert np.any(np.asarray(signed) < 0)  # The ReLU matters for this toy model.


def test_hand_computed_upsampled():
  targets = np.array([0, 4])
  got = cam.grad_cam(SPLIT, X, jnp.asarray(targets))
  assert got.shape == (B, 4, 4)
  expected = np.einsum("ih,bhw,jw->bij", UP, _hand_cam(targets), UP)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_multi_target_one_forward_pass():
  targets = jnp.array([[0, 2, 4], [1, 1, 3]])
  got = cam.grad_cam(SPLIT, X, targets)
  assert got.shape == (B, 3, 4, 4)
  for t in range(3):
    np.testing.assert_allclose(got[:, t], cam.grad_cam(SPLIT, X, targets[:, t]), rtol=1e-6)
  program = jax.make_jaxpr(lambda x: cam.grad_cam(SPLIT, x, targets))(X)
  assert helpers.count_primitive(program, "tanh") == 1  # The forward pass, once.


def test_score_fn():
  targets = jnp.array([2, 0])
  got = cam.grad_cam(SPLIT, X, targets, upsample=False, relu=False,
                     score_fn=jax.nn.log_softmax)
  a = features(X)
  grads = jax.grad(
      lambda a: jax.nn.log_softmax(head(a))[jnp.arange(B), targets].sum())(a)
  expected = jnp.einsum("bhwc,bc->bhw", a, grads.mean(axis=(1, 2)))
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_no_retrace():
  calls = []

  def counted(x):
    calls.append(1)
    return features(x)

  layer_fn = taps.split_layer_fn(counted, head)
  cam.grad_cam(layer_fn, X, jnp.array([0, 1]))
  n = len(calls)
  again = cam.grad_cam(layer_fn, X * 2, jnp.array([3, 4]))
  assert len(calls) == n
  assert again.shape == (B, 4, 4)


def test_flax_layer_matches_manual_and_upsamples(cnn):
  model, variables, _, x = cnn
  layer_fn = taps.flax_layer_fn(model, variables, "conv2")
  targets = jnp.array([[4, 9], [0, 2]])
  low = cam.grad_cam(layer_fn, x, targets, upsample=False)
  assert low.shape == (B, 2, 4, 4)

  @jax.jit
  def manual(x):
    _, act = layer_fn(x)
    outs = []
    for t in range(targets.shape[1]):
      grads = jax.grad(
          lambda d: layer_fn(x, d)[0][jnp.arange(B), targets[:, t]].sum())(jnp.zeros_like(act))
      outs.append(jax.nn.relu(jnp.einsum("bhwc,bc->bhw", act, grads.mean(axis=(1, 2)))))
    return jnp.stack(outs, 1)

  np.testing.assert_allclose(low, manual(x), rtol=1e-5, atol=1e-7)
  up = cam.grad_cam(layer_fn, x, targets)
  assert up.shape == (B, 2, 8, 8)
  np.testing.assert_allclose(up, jax.image.resize(low, (B, 2, 8, 8), "bilinear"), rtol=1e-6)


def test_guided_grad_cam(cnn):
  model, variables, f, x = cnn
  layer_fn = taps.flax_layer_fn(model, variables, "conv2")
  targets = jnp.array([3, 8])
  got = cam.guided_grad_cam(f, layer_fn, x, targets)
  assert got.shape == x.shape
  guided = gradients.input_gradients(f, x, targets, rule="guided_backprop")
  np.testing.assert_allclose(got, guided * cam.grad_cam(layer_fn, x, targets)[..., None],
                             rtol=1e-6)
  assert np.any(np.asarray(got) != 0)


def test_errors(cnn):
  model, variables, f, x = cnn
  with pytest.raises(ValueError, match=r"Valid layer names: \['conv1', 'pool1'"):
    cam.grad_cam(taps.flax_layer_fn(model, variables, "conv9"), x, jnp.array([0, 1]))
  with pytest.raises(ValueError, match=r"spatial layer.*\(2, 16\)"):
    cam.grad_cam(taps.flax_layer_fn(model, variables, "fc1"), x, jnp.array([0, 1]))
  with pytest.raises(ValueError, match="out of range"):
    cam.grad_cam(SPLIT, X, jnp.array([0, K]))
  with pytest.raises(ValueError, match="shape"):
    cam.grad_cam(SPLIT, X, jnp.array([0]))
  with pytest.raises(ValueError, match="integer"):
    cam.grad_cam(SPLIT, X, jnp.array([0.0, 1.0]))
  calls = []
  counted = taps.split_layer_fn(lambda x: calls.append(1) or features(x), head)
  with pytest.raises(ValueError, match="NaN"):
    cam.grad_cam(counted, X.at[1, 0, 0, 0].set(jnp.inf), jnp.array([0, 1]))
  assert not calls  # Rejected before the model is traced.
  linear = lambda x: x.reshape(B, -1) @ jnp.ones((x[0].size, K))
  with pytest.raises(backward_rules.NoRectifierError):
    cam.guided_grad_cam(linear, SPLIT, X, jnp.array([0, 1]))
