"""FGSM, BIM and PGD: exact identities, units, balls, restarts, classes, compiles, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxviz.models.meta import ModelMeta
from jaxviz.robustness import bim
from jaxviz.robustness import fgsm
from jaxviz.robustness import NonFiniteLossError
from jaxviz.robustness import pgd
from jaxviz.robustness import projected_gradient
from jaxviz.robustness import units
from tests import helpers

SHAPE = (6, 5, 3)
CLASSES = 4
# VGG-like: different std per channel, so pixel and input units differ per channel.
VGG_LIKE = ModelMeta(name="vgg_like", input_shape=SHAPE, mean=(0.485, 0.456, 0.406),
                     std=(0.229, 0.224, 0.225), class_names=tuple("abcd"))
MOBILENET_LIKE = ModelMeta(name="mobilenet_like", input_shape=SHAPE, mean=(0.5,) * 3,
                           std=(0.5,) * 3, class_names=tuple("abcd"))


def _weights(seed=0, classes=CLASSES):
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.normal(size=(int(np.prod(SHAPE)), classes)).astype(np.float32)),
          jnp.asarray(rng.normal(size=classes).astype(np.float32)))


W, BIAS = _weights()


def nonlinear_model(x):
  """A small non-linear classifier (tanh features), so attacks have something to search."""
  h = jnp.tanh(x.reshape(x.shape[0], -1) @ W * 0.3 + BIAS)
  return h @ jnp.asarray(np.eye(CLASSES, dtype=np.float32) * 4.0) + 0.5 * h[:, ::-1]


def linear_model(x):
  return x.reshape(x.shape[0], -1) @ W + BIAS


def _pixels(n, seed=1, low=0, high=255):
  return np.random.default_rng(seed).uniform(low, high, (n,) + SHAPE).astype(np.float32)


def _inputs(meta, n=8, seed=1, **kwargs):
  x = meta.preprocess(_pixels(n, seed, **kwargs))
  labels = np.asarray(jnp.argmax(nonlinear_model(jnp.asarray(x)), -1), np.int32)
  return x, labels


def _to_pixels(meta, x):
  """Input space -> pixels in [0, 1] without deprocess's clipping (so violations show)."""
  return np.asarray(x, np.float64) * np.asarray(meta.std) + np.asarray(meta.mean)


def _ce_grad(f, x, classes):
  return jax.grad(lambda v: jnp.sum(optax.softmax_cross_entropy_with_integer_labels(
      f(v), classes)))(jnp.asarray(x))


@pytest.mark.parametrize("meta", [VGG_LIKE, MOBILENET_LIKE], ids=["vgg_like", "mobilenet_like"])
def test_fgsm_is_the_clipped_sign_step_exactly(meta):
  x, labels = _inputs(meta)
  eps = 8 / 255
  got = fgsm(nonlinear_model, x, labels, meta=meta, epsilon=eps)
  low, high = meta.input_bounds
  want = np.clip(x + meta.pixel_budget(eps) * np.sign(np.asarray(_ce_grad(nonlinear_model, x,
                                                                          labels))), low, high)
  np.testing.assert_array_equal(np.asarray(got.adversarial), want)
  # Targeted: descend the target's cross-entropy.
  targets = (labels + 1) % CLASSES
  got = fgsm(nonlinear_model, x, labels, meta=meta, epsilon=eps, targets=targets)
  want = np.clip(x - meta.pixel_budget(eps) * np.sign(np.asarray(_ce_grad(nonlinear_model, x,
                                                                          targets))), low, high)
  np.testing.assert_array_equal(np.asarray(got.adversarial), want)


def test_mobilenet_units_8_over_255_is_16_over_255_in_input_space():
  x, labels = _inputs(MOBILENET_LIKE, low=40, high=215)  # Away from the box: no clipping.
  result = fgsm(nonlinear_model, x, labels, meta=MOBILENET_LIKE, epsilon=8 / 255)
  step = np.abs(np.asarray(result.adversarial) - x)
  np.testing.assert_allclose(step[step > 0], 16 / 255, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(result.norm), 8 / 255, rtol=1e-5)  # Reported in pixels.


def test_one_pgd_step_of_size_epsilon_without_random_start_is_fgsm():
  x, labels = _inputs(VGG_LIKE)
  want = fgsm(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=0.05)
  got = pgd(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=0.05, steps=1, step_size=0.05,
            random_start=False)
  np.testing.assert_array_equal(np.asarray(got.adversarial), np.asarray(want.adversarial))
  np.testing.assert_array_equal(np.asarray(got.success), np.asarray(want.success))


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_epsilon_zero_is_the_clean_evaluation(norm):
  x, labels = _inputs(VGG_LIKE)
  result = pgd(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=0.0, norm=norm, steps=20,
               key=jax.random.key(0))
  logits = nonlinear_model(jnp.asarray(x))
  np.testing.assert_array_equal(np.asarray(result.adversarial), x)
  np.testing.assert_array_equal(np.asarray(result.success),
                                np.asarray(jnp.argmax(logits, axis=1)) != labels)
  np.testing.assert_allclose(np.asarray(result.logits), np.asarray(logits), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      np.asarray(result.loss),
      np.asarray(optax.softmax_cross_entropy_with_integer_labels(logits, labels)), rtol=1e-5)
  np.testing.assert_array_equal(np.asarray(result.norm), 0.0)


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_adversarial_pixels_stay_in_the_ball_and_the_box(norm, eps):
  x, labels = _inputs(VGG_LIKE, n=6)
  result = pgd(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=eps, norm=norm, steps=15,
               step_size=eps / 2, restarts=3, key=jax.random.key(3))
  clean, adv = _to_pixels(VGG_LIKE, x), _to_pixels(VGG_LIKE, result.adversarial)
  delta = (adv - clean).reshape(len(x), -1)
  norms = np.abs(delta).max(1) if norm == "linf" else np.sqrt((delta ** 2).sum(1))
  assert np.all(norms <= eps * (1 + 1e-5))
  assert norms.max() > 0.9 * eps  # The attack used its budget.
  assert adv.min() >= -1e-6 and adv.max() <= 1 + 1e-6
  np.testing.assert_allclose(np.asarray(result.norm), norms, rtol=1e-4, atol=1e-7)


def test_l2_steps_scale_with_epsilon():
  x, labels = _inputs(VGG_LIKE, low=100, high=155)  # The box never binds.
  deltas = []
  for eps in (0.05, 0.1):
    one = pgd(linear_model, x, labels, meta=VGG_LIKE, epsilon=eps, norm="l2", steps=1,
              step_size=eps, random_start=False)
    np.testing.assert_allclose(np.asarray(one.norm), eps, rtol=1e-5)  # One step moves eps.
    # Default step size 2.5 * eps / steps; the margin of a linear model has a
    # constant gradient, so the whole path scales with epsilon.
    many = pgd(linear_model, x, labels, meta=VGG_LIKE, epsilon=eps, norm="l2", steps=5,
               random_start=False, loss="margin")
    deltas.append(np.asarray(many.adversarial) - x)
  np.testing.assert_allclose(deltas[1], 2 * deltas[0], rtol=1e-4, atol=1e-6)


def test_l2_step_follows_the_pixel_gradient_through_the_affine_map():
  x, labels = _inputs(VGG_LIKE, low=100, high=155)
  result = pgd(linear_model, x, labels, meta=VGG_LIKE, epsilon=0.1, norm="l2", steps=1,
               step_size=0.1, random_start=False)
  pixel_grad = np.asarray(_ce_grad(linear_model, x, labels)) / np.asarray(VGG_LIKE.std)
  direction = pixel_grad / np.linalg.norm(pixel_grad.reshape(len(x), -1), axis=1)[:, None, None,
                                                                                     None]
  pixel_step = _to_pixels(VGG_LIKE, result.adversarial) - _to_pixels(VGG_LIKE, x)
  np.testing.assert_allclose(pixel_step, 0.1 * direction, atol=1e-5)


def test_restarts_keep_the_worst_case_per_example():
  x, labels = _inputs(VGG_LIKE, n=16, seed=4)
  key = jax.random.key(7)
  options = dict(meta=VGG_LIKE, epsilon=6 / 255, steps=3, key=key, loss="margin")
  one = pgd(nonlinear_model, x, labels, restarts=1, **options)
  many = pgd(nonlinear_model, x, labels, restarts=5, **options)
  assert np.all(np.asarray(many.loss) >= np.asarray(one.loss))
  assert np.all(np.asarray(many.success) >= np.asarray(one.success))
  # Each example gets its own best restart (not the restart best on average).
  budget = units.make_budget(VGG_LIKE, "linf", 6 / 255, projected_gradient.default_step_size(
      6 / 255, 3))
  spec = projected_gradient.core.AttackSpec(loss="margin")
  goal = projected_gradient.core.Goal.of(labels)
  offsets = projected_gradient.restart_offsets(key, x.shape, 5, "linf")
  run_loss = jax.jit(jax.vmap(lambda o: projected_gradient._single_run(
      nonlinear_model, jnp.asarray(x), goal, budget, o, 3, True, spec)[0].loss))
  per_run = np.asarray(run_loss(offsets))
  np.testing.assert_allclose(np.asarray(many.loss), per_run.max(0), rtol=1e-5, atol=1e-5)
  assert len(set(per_run.argmax(0))) > 1


def test_more_steps_at_a_fixed_step_size_never_lower_the_loss():
  x, labels = _inputs(VGG_LIKE, n=16, seed=5)
  options = dict(meta=VGG_LIKE, epsilon=4 / 255, step_size=1 / 255, key=jax.random.key(0),
                 loss="margin")
  few = pgd(nonlinear_model, x, labels, steps=3, **options)
  more = pgd(nonlinear_model, x, labels, steps=12, **options)
  assert np.all(np.asarray(more.loss) >= np.asarray(few.loss))


@pytest.mark.parametrize("loss", ["cross_entropy", "margin"])
def test_results_do_not_depend_on_the_number_of_classes(loss):
  x, labels = _inputs(VGG_LIKE)

  def padded(v):  # The same classifier with 997 more classes that never win (logit -1e4).
    return jnp.concatenate([nonlinear_model(v), jnp.full((v.shape[0], 997), -1e4)], axis=1)

  small, large = (pgd(f, x, labels, meta=VGG_LIKE, epsilon=8 / 255, steps=4,
                      key=jax.random.key(1), loss=loss) for f in (nonlinear_model, padded))
  np.testing.assert_allclose(np.asarray(large.adversarial), np.asarray(small.adversarial),
                             atol=1e-6)
  np.testing.assert_array_equal(np.asarray(large.success), np.asarray(small.success))
  np.testing.assert_allclose(np.asarray(large.loss), np.asarray(small.loss), rtol=1e-5)
  assert large.logits.shape == (len(x), CLASSES + 997)


def test_targeted_pgd_reaches_the_target():
  x, labels = _inputs(VGG_LIKE, n=8, seed=6)
  targets = (labels + 1) % CLASSES
  result = pgd(linear_model, x, labels, meta=VGG_LIKE, epsilon=0.5, steps=20,
               key=jax.random.key(2), targets=targets)
  np.testing.assert_array_equal(np.asarray(result.success),
                                np.asarray(jnp.argmax(result.logits, -1)) == targets)
  assert np.mean(np.asarray(result.success)) >= 0.75


def test_bim_is_pgd_from_the_clean_input_with_kurakins_schedule():
  x, labels = _inputs(VGG_LIKE)
  assert projected_gradient.bim_steps(8 / 255) == 10  # min(8 + 4, 1.25 * 8)
  got = bim(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=8 / 255)
  want = pgd(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=8 / 255, steps=10,
             step_size=1 / 255, random_start=False)
  np.testing.assert_array_equal(np.asarray(got.adversarial), np.asarray(want.adversarial))


def test_one_trace_and_one_compile_per_configuration():
  f = helpers.TraceCounter(nonlinear_model)
  x, labels = _inputs(VGG_LIKE)
  pgd(f, x, labels, meta=VGG_LIKE, epsilon=2 / 255, steps=3, key=jax.random.key(0))
  compiled = projected_gradient._pgd._cache_size()
  # Other epsilons, step sizes, step counts, keys, targets, FGSM and BIM: the same program.
  for eps, steps, seed in ((4 / 255, 3, 1), (8 / 255, 7, 2)):
    pgd(f, x, labels, meta=VGG_LIKE, epsilon=eps, steps=steps, key=jax.random.key(seed))
  pgd(f, x, labels, meta=VGG_LIKE, epsilon=0.1, key=jax.random.key(3),
      targets=(labels + 1) % CLASSES)
  fgsm(f, x, labels, meta=VGG_LIKE, epsilon=0.1)
  bim(f, x, labels, meta=VGG_LIKE, epsilon=4 / 255)
  assert f.count == 1
  assert projected_gradient._pgd._cache_size() == compiled
  pgd(f, x, labels, meta=VGG_LIKE, epsilon=0.1, key=jax.random.key(3), restarts=2)
  assert projected_gradient._pgd._cache_size() == compiled + 1  # Restarts are static.


def test_a_non_finite_loss_stops_and_names_the_step():
  def fragile(v):  # sqrt of a quantity the attack drives below zero.
    s = jnp.mean(v.reshape(v.shape[0], -1), axis=1) - 0.9
    return jnp.stack([jnp.sqrt(s) * 10.0, jnp.zeros_like(s)], axis=1)

  meta = ModelMeta(name="unit", input_shape=SHAPE, mean=(0.0,) * 3, std=(1.0,) * 3,
                   class_names=("a", "b"))
  x = np.full((2,) + SHAPE, 0.92, np.float32)
  with pytest.raises(NonFiniteLossError, match=r"at step \d+ of 10"):
    pgd(fragile, x, np.zeros(2, np.int32), meta=meta, epsilon=0.1, steps=10, step_size=0.01,
        random_start=False)


@pytest.mark.parametrize("kwargs,match", [
    (dict(epsilon=-0.1), "epsilon must be a finite number >= 0"),
    (dict(epsilon=0.1, step_size=-0.01), "step_size must be a finite number >= 0"),
    (dict(epsilon=8.0), "larger than the pixel box"),
    (dict(epsilon=12.0, norm="l2"), "larger than the pixel box"),
    (dict(epsilon=0.1, norm="l1"), "Unknown norm"),
    (dict(epsilon=0.1, loss="hinge"), "Unknown attack loss"),
    (dict(epsilon=0.1, restarts=3, random_start=False), "without random_start"),
    (dict(epsilon=0.1, steps=0), "steps must be a positive int"),
    (dict(epsilon=0.1, key=None), "needs key="),
    (dict(epsilon=0.1, targets="same"), "targets different from the labels"),
    (dict(epsilon=0.1, labels=[0, 1, 2, 4, 0, 1, 2, 3]), "out of range"),
    (dict(epsilon=0.1, labels=[-1, 1, 2, 3, 0, 1, 2, 3]), "out of range"),
    (dict(epsilon=0.1, x="outside"), "outside the model's input box"),
    (dict(epsilon=0.1, x="nan"), "NaN"),
])
def test_bad_input_is_refused_before_any_work(kwargs, match):
  x, labels = _inputs(VGG_LIKE)
  calls = helpers.TraceCounter(nonlinear_model)
  kwargs = dict(kwargs)
  if kwargs.get("targets") == "same":
    kwargs["targets"] = labels.copy()
  if kwargs.get("x") == "outside":
    kwargs["x"] = x + 10.0
  elif kwargs.get("x") == "nan":
    kwargs["x"] = np.where(np.arange(x.size).reshape(x.shape) == 0, np.nan, x).astype(np.float32)
  options = dict(x=x, labels=np.asarray(kwargs.pop("labels", labels), np.int32),
                 key=jax.random.key(0), meta=VGG_LIKE, steps=2)
  options.update(kwargs)
  with pytest.raises(ValueError, match=match):
    pgd(calls, options.pop("x"), options.pop("labels"), **options)
  assert calls.count <= 1  # Shapes may be traced; nothing runs.
  with pytest.raises(ValueError, match="targets different from the labels"):
    fgsm(nonlinear_model, x, labels, meta=VGG_LIKE, epsilon=0.1, targets=labels)
