"""The ascent loop of jaxviz.synthesis: analytic toys, batching, compilation, errors."""

import functools
import logging

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.models import layers
from jaxviz.models import taps
from jaxviz.models.meta import ModelMeta
from jaxviz.synthesis import ascent
from jaxviz.synthesis import objectives
from jaxviz.synthesis import parameterizations as param_lib
from jaxviz.synthesis import presets
from jaxviz.synthesis import transforms as transforms_lib
from tests import helpers

META = ModelMeta("toy", (6, 6, 3), (0.5,) * 3, (0.5,) * 3, ("a", "b", "c", "d"))
W = np.random.default_rng(0).normal(size=(6 * 6 * 3, 4)).astype(np.float32) * 0.1


def _linear(x):
  return x.reshape(x.shape[0], -1) @ W


LINEAR_FN = taps.split_layer_fn(_linear, lambda logits: logits)


class _TinyCNN(nn.Module):
  """conv (ReLU6) -> conv (ReLU6) -> mean -> dense: every piece the loop must cross."""

  @nn.compact
  def __call__(self, x):
    x = layers.Conv(6, 3, activation="relu6", name="conv1")(x)
    x = layers.Conv(5, 3, 2, activation="relu6", name="conv2")(x)
    return layers.Dense(4, name="head")(x.mean(axis=(1, 2)))


@pytest.fixture(scope="module")
def cnn():
  model = _TinyCNN()
  x = jnp.zeros((1, 12, 12, 3))
  return model, _variables(model, x)


def _variables(model, x):
  rng = np.random.default_rng(1)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)
  return jax.tree.map(lambda s: (rng.normal(size=s.shape) * (
      1 / np.sqrt(np.prod(s.shape[:-1])) if len(s.shape) > 1 else 0.1)).astype(np.float32),
                      shapes)


def test_projected_ascent_of_a_linear_model_reaches_the_analytic_optimum():
  # max_x w_c . x - lambda ||x||^2 over the box [-1, 1] is separable per pixel:
  # x* = clip(w_c / (2 lambda), -1, 1); the clip binds for some pixels here.
  lam = 0.02
  param = param_lib.pixel(META, 4, squash="clip", init_scale=0.0)
  config = ascent.AscentConfig(steps=60, optimizer="sgd", learning_rate=10.0, l2_weight=lam,
                               chunk=20)
  result = ascent.ascend(LINEAR_FN, objectives.Objective("logit"), np.arange(4), param,
                         jax.random.key(0), config)
  optimum = (W.T / (2 * lam)).reshape(4, 6, 6, 3)
  assert 0.1 < np.mean(np.abs(optimum) > 1) < 0.9  # the box binds for some pixels only
  np.testing.assert_allclose(result.images, np.clip(optimum, -1, 1), atol=1e-5)
  # The objective (the score w_c . x) increases at every step from the zero image.
  assert result.objective.shape == (60, 4)
  np.testing.assert_array_equal(result.objective[0], 0.0)
  assert np.all(np.diff(result.objective, axis=0) >= -1e-6)
  assert np.all(result.objective[-1] > result.objective[1]) and np.all(result.objective[1] > 0)


def test_one_compile_per_configuration_same_key_same_images_no_batch_coupling(cnn):
  model, variables = cnn
  counter = helpers.TraceCounter(functools.partial(model.apply, variables))
  fn = taps.split_layer_fn(counter, lambda logits: logits)
  param = param_lib.fourier(META, 3, size=12)
  config = ascent.AscentConfig(steps=6, chunk=3, redirect_steps=2,
                               transforms=transforms_lib.Transforms(pad=2, jitter=1))
  run = functools.partial(ascent.ascend, fn, objectives.Objective("log_probability"),
                          parameterization=param, config=config)
  first = run(np.array([0, 1, 2]), key=jax.random.key(0))
  traces, compiled = counter.count, ascent._run_chunk._cache_size()
  again = run(np.array([0, 1, 2]), key=jax.random.key(0))
  others = run(np.array([0, 3, 1]), key=jax.random.key(0))  # new targets: no recompile
  other_key = run(np.array([0, 1, 2]), key=jax.random.key(1))
  assert counter.count == traces and ascent._run_chunk._cache_size() == compiled
  np.testing.assert_array_equal(again.images, first.images)
  # Image 0 (target 0) does not depend on what the other images are asked for.
  np.testing.assert_allclose(others.images[0], first.images[0], atol=1e-6)
  assert not np.allclose(others.images[1], first.images[1])
  assert not np.allclose(other_key.images, first.images)
  assert np.all(first.objective[-1] > first.objective[0])


def test_redirect_revives_a_dead_channel(cnn):
  model, variables = cnn
  variables = jax.tree.map(np.array, variables)  # a copy to edit
  variables["params"]["conv1"]["bias"][0] = -2.0  # channel 0: dead on grey images
  fn = objectives.layer_fn(model, variables, "conv1", (1, 12, 12, 3))
  param = param_lib.pixel(META, 1, size=12)
  objective = objectives.Objective("channel")
  start = param.init(jax.random.key(0))

  def value(params):
    _, activation = fn(param.render(params), None)
    return objective(None, activation[0], 0)

  start_value, start_grad = jax.jit(jax.value_and_grad(value))(start)
  assert start_value == 0  # dead: the plain gradient is zero, the ascent would be stuck
  np.testing.assert_array_equal(start_grad, 0.0)
  config = ascent.AscentConfig(steps=8, chunk=8, learning_rate=1.0, redirect_steps=4)
  history = ascent.ascend(fn, objective, np.array([0]), param, jax.random.key(0),
                          config).objective
  np.testing.assert_array_equal(history[0], 0.0)
  assert history[-1, 0] > 0  # the redirected gradient pushed the unit into its range


def test_jitter_is_undone_before_the_next_step():
  # One SGD step with a jitter of (dy, dx) equals: roll the image, step on the
  # rolled image, roll back. The parameters are never left shifted.
  param = param_lib.pixel(META, 1, squash="clip", init_scale=0.3)
  jitter = transforms_lib.Transforms(jitter=2)
  config = ascent.AscentConfig(steps=1, chunk=1, optimizer="sgd", learning_rate=0.5,
                               transforms=jitter)
  key = jax.random.key(4)
  quad = lambda x: -jnp.sum((x - jnp.linspace(-1, 1, x.size).reshape(x.shape)) ** 2,
                            axis=(1, 2, 3))[:, None]
  fn = taps.split_layer_fn(quad, lambda logits: logits)
  result = ascent.ascend(fn, objectives.Objective("logit"), np.array([0]), param, key, config)
  start = param.init(key)
  rolled = jax.jit(jitter)(jax.random.fold_in(key, 0), start, param.low, param.high)
  shift = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
           if np.array_equal(rolled, jnp.roll(start, (dy, dx), axis=(1, 2)))]
  assert len(shift) == 1
  dy, dx = shift[0]
  grad_rolled = jax.jit(jax.grad(lambda r: quad(r).sum()))(rolled)
  by_hand = param.project(jnp.roll(rolled + 0.5 * grad_rolled, (-dy, -dx), axis=(1, 2)))
  np.testing.assert_allclose(result.images, by_hand, atol=1e-6)


def test_non_finite_objective_stops_and_names_the_step(caplog):
  # logit = sum(x) + 0 * sqrt(0.25 - mean(x)): SGD moves every pixel by 0.1 per
  # step from 0, so the objective is NaN from step 3 (mean 0.3) on.
  def model(x):
    mean = jnp.mean(x, axis=(1, 2, 3))
    return (jnp.sum(x, axis=(1, 2, 3)) + 0.0 * jnp.sqrt(0.25 - mean))[:, None]

  fn = taps.split_layer_fn(model, lambda logits: logits)
  param = param_lib.pixel(META, 2, squash="clip", init_scale=0.0)
  config = ascent.AscentConfig(steps=10, chunk=2, optimizer="sgd", learning_rate=0.1)
  with caplog.at_level(logging.INFO, logger="jaxviz"):
    with pytest.raises(ascent.NonFiniteObjectiveError, match="at step 3 ") as info:
      ascent.ascend(fn, objectives.Objective("logit"), np.array([0, 0]), param,
                    jax.random.key(0), config, progress_seconds=0.0)
  assert info.value.step == 3 and info.value.images == [0, 1]
  assert any("synthesis: 2/10 steps" in message for message in caplog.messages)


@pytest.mark.parametrize("call, match", [
    (lambda cnn: ascent.ascend(_fn(cnn, None), objectives.Objective("logit"), np.array([4]),
                               param_lib.fourier(META, 1, size=12), jax.random.key(0)),
     "out of range"),
    (lambda cnn: ascent.ascend(_fn(cnn, "conv2"), objectives.Objective("channel"),
                               np.array([5]), param_lib.fourier(META, 1, size=12),
                               jax.random.key(0)), "out of range"),
    (lambda cnn: _fn(cnn, "conv7"), "Valid layer names: \\['conv1', 'conv2', 'head'\\]"),
    (lambda cnn: ascent.AscentConfig(steps=0), "steps must be a positive int"),
    (lambda cnn: ascent.AscentConfig(learning_rate=0.0), "learning_rate"),
    (lambda cnn: ascent.AscentConfig(learning_rate=-1.0), "learning_rate"),
    (lambda cnn: ascent.AscentConfig(optimizer="lbfgs"), "Unknown optimizer"),
    (lambda cnn: ascent.AscentConfig(norm_percentile=120.0), "norm_percentile"),
    (lambda cnn: objectives.Objective("argmax"), "Unknown objective"),
    (lambda cnn: ascent.ascend(_fn(cnn, None), objectives.Objective("logit"), np.array([0]),
                               param_lib.fourier(META, 1, size=12), jax.random.key(0),
                               ascent.AscentConfig(blur_every=4, blur_sigma=0.5)),
     "squash='clip'"),
    (lambda cnn: ascent.ascend(_fn(cnn, "head"), objectives.Objective("neuron"),
                               np.array([0]), param_lib.fourier(META, 1, size=12),
                               jax.random.key(0)), "spatial activation"),
    (lambda cnn: ascent.ascend(LINEAR_FN, objectives.Objective("logit"), np.array([0]),
                               param_lib.fourier(META, 1, size=8), jax.random.key(0)),
     "does not accept images of shape \\(1, 8, 8, 3\\)"),
    (lambda cnn: ascent.ascend(_fn(cnn, None), objectives.Objective("logit"),
                               np.array([0, 1]), param_lib.fourier(META, 1, size=12),
                               jax.random.key(0)), "targets"),
    (lambda cnn: ascent.ascend(_fn(cnn, None), objectives.Objective("logit"), np.array([0]),
                               param_lib.fourier(META, 1, size=12), 0), "PRNG key"),
    (lambda cnn: presets.preset("yosinski_5", META), "Unknown preset"),
])
def test_bad_input_raises_before_any_work(cnn, call, match):
  with pytest.raises(ValueError, match=match):
    call(cnn)


def _fn(cnn, layer):
  model, variables = cnn
  return objectives.layer_fn(model, variables, layer, (1, 12, 12, 3))
