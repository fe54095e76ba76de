"""Robustness curves, the attack sanity checklist and the adversarial-training hook."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.data import samples
from jaxviz.models import LinearSoftmax
from jaxviz.models import random_params
from jaxviz.models.meta import ModelMeta
from jaxviz.robustness import attack_checklist
from jaxviz.robustness import fgsm
from jaxviz.plotting import robustness_plots as figures
from jaxviz.robustness import make_attack
from jaxviz.robustness import pgd
from jaxviz.robustness import pgd_perturb
from jaxviz.robustness import robustness_curve

META = ModelMeta(name="digits", input_shape=(8, 8, 1), mean=(0.0,), std=(1.0,),
                 class_names=tuple(str(i) for i in range(10)))


@pytest.fixture(scope="module")
def digits_softmax():
  """A linear softmax classifier fitted to scikit-learn digits (closed form, no training loop)."""
  data = samples.sklearn_digits("all")
  x = META.preprocess(data.images)
  features = np.concatenate([x.reshape(len(x), -1), np.ones((len(x), 1), np.float32)], 1)
  # Ridge regression on one-hot targets: a good linear classifier in one solve.
  onehot = np.eye(10, dtype=np.float32)[data.labels]
  weights = np.linalg.solve(features.T @ features + 1.0 * np.eye(65), features.T @ onehot) * 8
  kernel, bias = jnp.asarray(weights[:-1], jnp.float32), jnp.asarray(weights[-1], jnp.float32)
  f = lambda v: v.reshape(v.shape[0], -1) @ kernel + bias
  return f, x[:96], data.labels[:96].astype(np.int32)


def test_robustness_curve_accuracy_minimal_epsilon_and_batching(digits_softmax):
  f, x, labels = digits_softmax
  attack = make_attack("fgsm", f, META)
  epsilons = [0.0, 0.05, 0.1, 0.2, 0.4]
  curve = robustness_curve(attack, x, labels, epsilons, key=jax.random.key(0), batch_size=40)
  clean = np.mean(np.asarray(jnp.argmax(f(jnp.asarray(x)), -1)) == labels)
  assert curve.accuracy[0] == pytest.approx(clean)
  assert clean > 0.9 and curve.accuracy[-1] < 0.1
  assert np.all(np.diff(curve.accuracy) <= 0)  # A linear model: FGSM grows with epsilon.
  # Same outcome as one FGSM call on the whole batch at every epsilon (padding dropped).
  for e, eps in enumerate(epsilons):
    whole = fgsm(f, x, labels, meta=META, epsilon=eps)
    np.testing.assert_array_equal(curve.success[e], np.asarray(whole.success))
  # Minimal epsilon: the first epsilon of the sweep that succeeds, inf if none.
  minimal = curve.minimal_epsilon
  for n in range(len(labels)):
    hits = np.flatnonzero(curve.success[:, n])
    assert minimal[n] == (curve.epsilons[hits[0]] if hits.size else np.inf)
  assert np.all(curve.confidence > 0) and np.all(curve.confidence <= 1)
  arrays = curve.as_arrays("fgsm_")
  assert arrays["fgsm_accuracy"].shape == (5,) and arrays["fgsm_minimal_epsilon"].shape == (96,)


def test_robustness_curve_rejects_bad_sweeps(digits_softmax):
  f, x, labels = digits_softmax
  attack = make_attack("fgsm", f, META)
  with pytest.raises(ValueError, match="strictly increasing"):
    robustness_curve(attack, x, labels, [0.1, 0.05], key=jax.random.key(0))
  with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
    robustness_curve(attack, x, labels, [-0.1], key=jax.random.key(0))
  with pytest.raises(ValueError, match="Unknown attack"):
    make_attack("deepfool", f, META)


def test_checklist_passes_on_an_honest_model_and_catches_gradient_masking(digits_softmax):
  f, x, labels = digits_softmax
  x, labels = x[:32], labels[:32]
  options = dict(meta=META, epsilon=0.1, key=jax.random.key(1), steps=(4, 12), restarts=(1, 3),
                 epsilon_sweep=[0.1, 0.3, 1.0])
  honest = attack_checklist(f, x, labels, transfer_f=lambda v: f(v) + 0.3 * f(v[:, ::-1]),
                            **options)
  assert honest.passed, honest.details
  assert set(honest.checks) == {
      "accuracy_reaches_zero", "accuracy_decreases_with_epsilon",
      "iterative_not_weaker_than_single_step", "more_steps_not_weaker",
      "more_restarts_not_weaker", "random_noise_not_stronger",
      "white_box_not_weaker_than_transfer", "targeted_raises_target_probability"}

  # Quantised inputs: zero gradients everywhere (gradient masking, Athalye et al. 2018).
  masked_f = lambda v: f(jnp.round(v * 4) / 4)
  masked = attack_checklist(masked_f, x, labels, **dict(options, steps=(4, 4), restarts=(1, 1)))
  assert not masked.checks["accuracy_reaches_zero"]
  assert not masked.checks["targeted_raises_target_probability"]


def test_pgd_perturb_hook_matches_pgd():
  # Training through the hook runs in tests/test_adversarial_training_experiment.py.
  data = samples.sklearn_digits("train")
  x = META.preprocess(data.images[:64])
  labels = data.labels[:64].astype(np.int32)
  model = LinearSoftmax(num_classes=10)
  params = random_params(model, x[:1].shape)
  perturb = pgd_perturb(model, META, epsilon=0.1, steps=3)
  key = jax.random.key(5)
  adv = jax.jit(perturb)(params, jnp.asarray(x), jnp.asarray(labels), key)
  f = lambda v: model.apply({"params": params}, v)
  want = pgd(f, x, labels, meta=META, epsilon=0.1, steps=3, key=key)
  np.testing.assert_allclose(np.asarray(adv), np.asarray(want.adversarial), atol=1e-6)
  assert float(jnp.max(jnp.abs(adv - x))) <= 0.1 + 1e-6
  with pytest.raises(ValueError, match="larger than the pixel box"):
    pgd_perturb(model, META, epsilon=2.0)


def test_figures_are_labelled(digits_softmax):
  f, x, labels = digits_softmax
  adv = fgsm(f, x[:2], labels[:2], meta=META, epsilon=0.2)
  fig = figures.adversarial_examples_figure(x[:2], np.asarray(adv.adversarial), ["3 90%", "1 80%"],
                                            ["8 70%", "7 60%"], epsilon_label="0.2")
  titles = [ax.get_title() for ax in fig.axes]
  assert titles[0].startswith("clean: 3") and "amplified" in titles[1]
  assert titles[2].startswith("adversarial: 8")
  curves = figures.robustness_curves_figure({"FGSM": (np.array([0, 0.1]), np.array([1, 0.5]))})
  assert curves.axes[0].get_xlabel() and curves.axes[0].get_ylabel() == "accuracy"
