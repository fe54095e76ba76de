"""Tests for jaxviz.attribution.{gradients, reductions, neuron} on analytic toy models."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution import backward_rules
from jaxviz.attribution import gradients
from jaxviz.attribution import neuron
from jaxviz.attribution import reductions
from jaxviz.models import small_cnn
from jaxviz.models import taps
from tests import helpers

B, H, W, C, K = 2, 4, 5, 3, 6
D = H * W * C


def _rand(seed, shape, scale=1.0):
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape) * scale, jnp.float32)


X = _rand(0, (B, H, W, C))
WEIGHT = _rand(1, (D, K))
BIAS = _rand(2, (K,))


def linear(x):
  """logits = flatten(x) @ WEIGHT + BIAS: d logit_k / d x = WEIGHT[:, k]."""
  return x.reshape(x.shape[0], -1) @ WEIGHT + BIAS


def quadratic(x):
  """logit_k = sum(WEIGHT[:, k] * x^2): d logit_k / d x = 2 WEIGHT[:, k] x."""
  return jnp.square(x.reshape(x.shape[0], -1)) @ WEIGHT


def relu_linear(x):
  """logits = relu(x) @ WEIGHT: guided = W_k (x > 0)(W_k > 0), deconv = relu(W_k)."""
  return jax.nn.relu(x.reshape(x.shape[0], -1)) @ WEIGHT


def sin_model(x):
  """A model whose forward pass is marked by the only `sin` in the program."""
  return jnp.sin(x.reshape(x.shape[0], -1)) @ WEIGHT


def _column(k):
  """WEIGHT[:, k] for k [B] or [B, T], reshaped to the input: [B, (T,) H, W, C]."""
  cols = WEIGHT.T[np.asarray(k)]
  return cols.reshape(np.shape(k) + (H, W, C))


# ---------------------------------------------------------------------------
# input_gradients


def test_linear_gradient_is_weight_column():
  targets = jnp.array([1, 4])
  np.testing.assert_allclose(gradients.input_gradients(linear, X, targets), _column(targets),
                             rtol=1e-6, atol=1e-6)


def test_quadratic_gradient_multi_target():
  targets = jnp.array([[0, 3, 5], [2, 2, 1]])
  got = gradients.input_gradients(quadratic, X, targets)
  assert got.shape == (B, 3, H, W, C)
  np.testing.assert_allclose(got, 2 * _column(targets) * X[:, None], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def cnn():
  """A small Flax CNN on 8x8 inputs: (model, variables, f, x)."""
  model = small_cnn.SmallCNN(channels=(4, 8), hidden=16)
  x = jax.random.uniform(jax.random.key(0), (B, 8, 8, 1))
  variables = helpers.random_variables(model, x, seed=1, kernel_gain=np.sqrt(2.0))
  return model, variables, functools.partial(model.apply, variables), x


def test_multi_target_equals_per_target_loop_on_cnn(cnn):
  _, _, f, x = cnn
  targets = jnp.array([[3, 0], [1, 7]])
  guided = gradients.input_gradients(f, x, targets, rule="guided_backprop")
  for t in range(targets.shape[1]):
    np.testing.assert_allclose(
        guided[:, t], gradients.input_gradients(f, x, targets[:, t], rule="guided_backprop"),
        rtol=1e-5, atol=1e-7)
  # The plain gradient against jax.grad of each column's summed target logits.
  manual = jax.jit(lambda x: jnp.stack(
      [jax.grad(lambda x: f(x)[jnp.arange(B), targets[:, t]].sum())(x)
       for t in range(targets.shape[1])], 1))
  np.testing.assert_allclose(gradients.input_gradients(f, x, targets), manual(x),
                             rtol=1e-5, atol=1e-7)


def test_score_fn_log_softmax():
  targets = jnp.array([2, 5])
  got = gradients.input_gradients(quadratic, X, targets, score_fn=jax.nn.log_softmax)
  manual = jax.grad(
      lambda x: jax.nn.log_softmax(quadratic(x))[jnp.arange(B), targets].sum())(X)
  np.testing.assert_allclose(got, manual, rtol=1e-5, atol=1e-6)


def test_one_forward_pass_for_all_targets():
  """The forward `sin` appears once in the program for 1 or 5 targets."""
  def program(targets):
    return jax.make_jaxpr(lambda x: gradients.input_gradients(sin_model, x, targets))(X)

  assert helpers.count_primitive(program(jnp.zeros((B,), jnp.int32)), "sin") == 1
  assert helpers.count_primitive(program(jnp.zeros((B, 5), jnp.int32)), "sin") == 1
  # The counter does see a per-target loop of forward passes.
  loop = jax.make_jaxpr(lambda x: [jax.grad(lambda x: sin_model(x)[:, t].sum())(x)
                                   for t in range(5)])(X)
  assert helpers.count_primitive(loop, "sin") == 5


def test_no_retrace_for_same_shapes():
  calls = {"f": 0, "score": 0}

  def f(x):
    calls["f"] += 1
    return quadratic(x)

  def score(logits):
    calls["score"] += 1
    return jax.nn.log_softmax(logits)

  first = gradients.input_gradients(f, X, jnp.array([[0, 1], [2, 3]]), score_fn=score)
  after_first = dict(calls)
  assert after_first["f"] >= 1 and after_first["score"] >= 1
  second = gradients.input_gradients(f, X + 1.0, jnp.array([[4, 5], [0, 0]]), score_fn=score)
  assert calls == after_first
  assert not np.allclose(first, second)
  gradients.input_gradients(f, X[:1], jnp.array([[0, 1]]), score_fn=score)  # New shape.
  assert calls["f"] > after_first["f"]


def test_parameters_are_arguments_not_constants():
  weight = _rand(5, (D, K))

  def f(x):
    return x.reshape(x.shape[0], -1) @ weight

  prep = gradients.prepare(f, "gradient", X)
  assert any(c.shape == weight.shape and np.array_equal(c, weight) for c in prep.consts)
  hlo = jax.jit(prep.fn).lower(prep.consts, X).as_text()
  assert 'dense<"0x' not in hlo  # No baked-in array constant.
  np.testing.assert_array_equal(jax.jit(prep.fn)(prep.consts, X), f(X))


def test_guided_and_deconvnet_analytic():
  targets = jnp.array([0, 3])
  w = _column(targets)
  on = (X > 0).astype(jnp.float32)
  plain = gradients.input_gradients(relu_linear, X, targets)
  guided = gradients.input_gradients(relu_linear, X, targets, rule="guided_backprop")
  deconv = gradients.input_gradients(relu_linear, X, targets, rule="deconvnet")
  np.testing.assert_allclose(plain, w * on, rtol=1e-6)
  np.testing.assert_allclose(guided, w * on * (w > 0), rtol=1e-6)
  np.testing.assert_allclose(deconv, jax.nn.relu(w), rtol=1e-6)
  assert np.all(guided[X <= 0] == 0)  # Zero wherever the forward ReLU is off.
  assert np.any(deconv[X <= 0] != 0)  # Deconvnet ignores the forward gate.


def test_backward_rule_report():
  report = gradients.backward_rule_report(relu_linear, X)
  assert (report.relu, report.total) == (1, 1)
  assert gradients.backward_rule_report(relu_linear, X, rule="deconvnet").total == 1
  assert gradients.backward_rule_report(relu_linear, X, rule="gradient").total == 1
  with pytest.raises(backward_rules.NoRectifierError):
    gradients.backward_rule_report(linear, X)
  with pytest.raises(backward_rules.NoRectifierError):
    gradients.input_gradients(linear, X, jnp.array([0, 1]), rule="guided_backprop")


@pytest.mark.parametrize("x, targets, match", [
    (X.at[0, 0, 0, 0].set(jnp.nan), jnp.array([0, 1]), "NaN"),
    (X[0], jnp.array([0, 1]), "rank 4"),
    (X.astype(jnp.int32), jnp.array([0, 1]), "floating"),
    (X, jnp.array([0, K]), "out of range"),
    (X, jnp.array([-1, 0]), "out of range"),
    (X, jnp.array([0, 1, 2]), "shape"),
    (X, jnp.zeros((B, 2, 1), jnp.int32), "shape"),
    (X, jnp.array([0.0, 1.0]), "integer"),
])
def test_input_errors(x, targets, match):
  calls = []

  def f(x):
    calls.append(1)
    return linear(x)

  with pytest.raises(ValueError, match=match):
    gradients.input_gradients(f, x, targets)
  if match in ("NaN", "rank 4", "floating"):
    assert not calls  # Rejected before f is even traced.


def test_rule_and_output_errors():
  with pytest.raises(ValueError, match="Unknown backward rule"):
    gradients.input_gradients(linear, X, jnp.array([0, 1]), rule="guided")
  with pytest.raises(ValueError, match=r"logits of shape \[B, K\]"):
    gradients.input_gradients(lambda x: x.sum(), X, jnp.array([0, 1]))
  with pytest.raises(ValueError, match="score_fn"):
    gradients.input_gradients(linear, X, jnp.array([0, 1]), score_fn=jnp.sum)


# ---------------------------------------------------------------------------
# reductions


def test_reduce_channels():
  attr = jnp.array([[3.0, -4.0, 1.0], [-2.0, 0.0, 0.5]])
  np.testing.assert_allclose(reductions.reduce_channels(attr), [4.0, 2.0])
  np.testing.assert_allclose(reductions.reduce_channels(attr, "sum_abs"), [8.0, 2.5])
  np.testing.assert_allclose(reductions.reduce_channels(attr, "signed"), [0.0, -1.5])
  np.testing.assert_allclose(reductions.reduce_channels(attr, "max_abs_signed"), [-4.0, -2.0])
  np.testing.assert_allclose(reductions.reduce_channels(attr, "l2"),
                             [np.sqrt(26.0), np.sqrt(4.25)], rtol=1e-6)
  with pytest.raises(ValueError, match="Unknown channel reduction"):
    reductions.reduce_channels(attr, "max")
  with pytest.raises(ValueError, match="channel axis"):
    reductions.reduce_channels(jnp.float32(1.0))


def test_input_x_gradient_and_saliency_map():
  targets = jnp.array([[1, 2], [0, 5]])
  np.testing.assert_allclose(reductions.input_x_gradient(linear, X, targets),
                             X[:, None] * _column(targets), rtol=1e-6)
  np.testing.assert_allclose(reductions.input_x_gradient(linear, X, targets[:, 0]),
                             X * _column(targets[:, 0]), rtol=1e-6)
  sal = reductions.saliency_map(quadratic, X, targets)
  assert sal.shape == (B, 2, H, W)
  np.testing.assert_allclose(sal, jnp.abs(2 * _column(targets) * X[:, None]).max(-1),
                             rtol=1e-5)
  signed = reductions.saliency_map(linear, X, targets[:, 0], reduction="signed")
  np.testing.assert_allclose(signed, _column(targets[:, 0]).sum(-1), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="Unknown channel reduction"):
    reductions.saliency_map(linear, X, targets, reduction="abs")


def test_normalize_maps():
  ramp = np.arange(100.0).reshape(1, 10, 10)
  maps = np.concatenate([ramp, 5 + 2 * ramp, np.full((1, 10, 10), 3.0)]).astype(np.float32)
  out = reductions.normalize_maps(maps, percentile=50)
  hi = np.percentile(np.arange(100.0), 50)
  np.testing.assert_allclose(out[0], np.clip(np.arange(100.0) / hi, 0, 1).reshape(10, 10),
                             rtol=1e-6)
  np.testing.assert_allclose(out[1], out[0], rtol=1e-6)  # Affine-invariant.
  np.testing.assert_array_equal(out[2], 0.0)  # Constant map.
  full = reductions.normalize_maps(maps, percentile=100)
  assert full[0].min() == 0 and full[0].max() == 1
  two = np.array([[[-2.0, 0.0], [1.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
  signed = reductions.normalize_maps(two, 100, signed=True)
  np.testing.assert_allclose(signed, [[[0.25, 0.5], [0.625, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])
  np.testing.assert_allclose(reductions.normalize_maps(np.arange(4).reshape(1, 2, 2), 100),
                             [[[0, 1 / 3], [2 / 3, 1]]], rtol=1e-6)  # Integer maps.
  with pytest.raises(ValueError, match="real numbers"):
    reductions.normalize_maps(jnp.ones((2, 2), jnp.complex64))
  with pytest.raises(ValueError, match="percentile"):
    reductions.normalize_maps(maps, percentile=0)
  with pytest.raises(ValueError, match="NaN"):
    reductions.normalize_maps(np.where(maps == 3.0, np.nan, maps))
  with pytest.raises(ValueError, match=r"\[..., H, W\]"):
    reductions.normalize_maps(jnp.zeros(5))


# ---------------------------------------------------------------------------
# neuron gradients

CONV_W = _rand(6, (1, 1, C, 4))  # 1x1 conv, C -> 4 channels.
DENSE_W = _rand(7, (H * W * 4, K))


def _features(x):
  return jax.nn.relu(jnp.einsum("bhwc,cd->bhwd", x, CONV_W[0, 0]))


def _head(act):
  return act.reshape(act.shape[0], -1) @ DENSE_W


SPLIT = taps.split_layer_fn(_features, _head)


def test_neuron_gradients_match_jax_grad():
  neurons = [neuron.Neuron(1), neuron.Neuron(2, reduction="max"),
             neuron.Neuron(3, position=(1, 4)), neuron.Neuron(np.array([0, 3]))]
  got = neuron.neuron_gradients(SPLIT, X, neurons)
  assert got.shape == (B, 4, H, W, C)
  reads = [lambda a: a[..., 1].mean((1, 2)), lambda a: a[..., 2].max((1, 2)),
           lambda a: a[:, 1, 4, 3], lambda a: a[jnp.arange(B), ..., jnp.array([0, 3])].mean((1, 2))]
  manual = jax.jit(lambda x: jnp.stack(
      [jax.grad(lambda x: read(_features(x)).sum())(x) for read in reads], 1))
  np.testing.assert_allclose(got, manual(X), rtol=1e-5, atol=1e-7)
  single = neuron.neuron_gradients(SPLIT, X, neurons[2])
  np.testing.assert_allclose(single, got[:, 2], rtol=1e-6)


def test_neuron_gradients_dense_layer_and_flax(cnn):
  model, variables, _, x = cnn
  fc1 = taps.flax_layer_fn(model, variables, "fc1")
  got = neuron.neuron_gradients(fc1, x, [neuron.Neuron(5), neuron.Neuron(np.array([1, 2]))])

  @jax.jit
  def manual(x):
    acts = lambda x: taps.activations(model, variables, x, ["fc1"])["fc1"]
    return jnp.stack([jax.grad(lambda x: acts(x)[:, 5].sum())(x),
                      jax.grad(lambda x: acts(x)[jnp.arange(B), jnp.array([1, 2])].sum())(x)], 1)

  np.testing.assert_allclose(got, manual(x), rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="position must have 0 entries"):
    neuron.neuron_gradients(fc1, x, neuron.Neuron(0, position=(1, 1)))


def test_neuron_guided_backprop_analytic():
  """Act = relu(x @ V): guided grad of channel d at (i, j) = V[:, d] (x V > 0)(V > 0)."""
  i, j, d = 2, 3, 1
  got = neuron.neuron_gradients(SPLIT, X, neuron.Neuron(d, position=(i, j)),
                                rule="guided_backprop")
  v = CONV_W[0, 0, :, d]
  expected = jnp.zeros_like(X).at[:, i, j].set(
      v * (X[:, i, j] @ v > 0)[:, None] * (v > 0))
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  deconv = neuron.neuron_gradients(SPLIT, X, neuron.Neuron(d, position=(i, j)),
                                   rule="deconvnet")
  np.testing.assert_allclose(deconv[:, i, j], jnp.broadcast_to(jax.nn.relu(v), (B, C)),
                             rtol=1e-6)


def test_neuron_no_retrace():
  calls = []

  def features(x):
    calls.append(1)
    return _features(x)

  layer_fn = taps.split_layer_fn(features, _head)
  neuron.neuron_gradients(layer_fn, X, [neuron.Neuron(0), neuron.Neuron(1, position=(0, 0))])
  n = len(calls)
  other = neuron.neuron_gradients(layer_fn, X, [neuron.Neuron(2, reduction="max"),
                                                neuron.Neuron(3)])
  assert len(calls) == n
  np.testing.assert_allclose(other[:, 1], jax.grad(lambda x: _features(x)[..., 3].mean(
      (1, 2)).sum())(X), rtol=1e-5, atol=1e-7)


def test_top_channels():
  idx, means = neuron.top_channels(SPLIT, X, 3)
  act_means = np.asarray(_features(X)).mean((1, 2))
  np.testing.assert_array_equal(idx, np.argsort(-act_means, axis=1)[:, :3])
  np.testing.assert_allclose(means, np.take_along_axis(act_means, np.asarray(idx), 1),
                             rtol=1e-6)
  for k in (0, 5, 2.0):
    with pytest.raises(ValueError, match="k must be"):
      neuron.top_channels(SPLIT, X, k)


@pytest.mark.parametrize("neurons, match", [
    (neuron.Neuron(4), "channel out of range"),
    (neuron.Neuron(-1), "channel out of range"),
    (neuron.Neuron(np.array([0, 1, 2])), r"int array of shape \[2\]"),
    (neuron.Neuron(0.5), "must be an int"),
    (neuron.Neuron(0, position=(H, 0)), r"position\[0\] out of range"),
    (neuron.Neuron(0, position=(0,)), "position must have 2 entries"),
    (neuron.Neuron(0, reduction="sum"), "reduction must be one of"),
    ([], "at least one"),
    ([3], "must be a Neuron"),
])
def test_neuron_errors(neurons, match):
  with pytest.raises(ValueError, match=match):
    neuron.neuron_gradients(SPLIT, X, neurons)


def test_neuron_unknown_layer_and_rule(cnn):
  model, variables, _, x = cnn
  with pytest.raises(ValueError, match=r"Valid layer names: \['conv1'"):
    neuron.neuron_gradients(taps.flax_layer_fn(model, variables, "conv3"), x, neuron.Neuron(0))
  with pytest.raises(ValueError, match="Unknown backward rule"):
    neuron.neuron_gradients(SPLIT, X, neuron.Neuron(0), rule="guided")
