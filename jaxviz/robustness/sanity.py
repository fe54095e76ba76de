"""An attack sanity checklist: is the evaluation strong enough to be believed?

Carlini et al. 2019, "On Evaluating Adversarial Robustness",
https://arxiv.org/abs/1902.06705 , list the checks that catch a broken
attack or a model that only masks its gradients. :func:`attack_checklist`
runs them on a model and a batch of inputs, each a bool plus the numbers
behind it:

* ``accuracy_reaches_zero``: PGD accuracy is ~0 (<= ``zero_accuracy``) at
  an epsilon that covers the whole box (an unbounded attack must succeed);
* ``accuracy_decreases_with_epsilon``: along a sweep of epsilons towards the
  box, accuracy never rises by more than ``tolerance``;
* ``iterative_not_weaker_than_single_step``: PGD accuracy <= FGSM accuracy;
* ``more_steps_not_weaker``: PGD with more steps is not weaker than with
  fewer (each with Madry et al.'s step size ``2.5 * eps / steps``);
* ``more_restarts_not_weaker``: more random restarts are not weaker;
* ``random_noise_not_stronger``: uniform noise in the ball is not stronger
  than PGD (else the gradients are useless);
* ``white_box_not_weaker_than_transfer``: PGD on the model itself is at least
  as strong as adversarial examples transferred from another model (only
  when ``transfer_f`` is given);
* ``targeted_raises_target_probability``: a targeted PGD raises the target's
  probability on at least ``targeted_fraction`` of the examples.

Accuracies compare with slack ``tolerance`` (default one example in a
hundred), since different step sizes walk different paths.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.models import meta as meta_lib
from jaxviz.robustness import core
from jaxviz.robustness import fast_gradient
from jaxviz.robustness import projected_gradient
from jaxviz.robustness import projections
from jaxviz.robustness import units

__all__ = ("Checklist", "attack_checklist", "random_targets")


@dataclasses.dataclass(frozen=True)
class Checklist:
  """The checklist's verdicts and the numbers behind them.

  Attributes:
    checks: check name -> passed.
    details: check name -> the accuracies/probabilities it compared.
  """

  checks: dict[str, bool]
  details: dict[str, dict[str, Any]]

  @property
  def passed(self) -> bool:
    return all(self.checks.values())


def random_targets(key: jax.Array, labels: np.ndarray, meta: meta_lib.ModelMeta) -> np.ndarray:
  """[B] random target logit indices of real classes (never the background), != labels."""
  labels = np.asarray(labels)
  shift = np.asarray(jax.random.randint(key, labels.shape, 1, meta.num_classes))
  classes = meta.class_index(labels)
  return meta.logit_index((classes + shift) % meta.num_classes)


@jax.jit
def _accuracy(logits, labels):
  return jnp.mean(jnp.argmax(logits, -1) == labels)


def _probability(logits, classes):
  probs = jax.nn.softmax(jnp.asarray(logits), -1)
  return np.asarray(jnp.take_along_axis(probs, jnp.asarray(classes)[:, None], 1)[:, 0])


def attack_checklist(f: core.ModelFn, x: np.ndarray, labels: np.ndarray, *,
                     meta: meta_lib.ModelMeta, epsilon: float, key: jax.Array,
                     norm: str = "linf", steps: tuple[int, int] = (10, 50),
                     restarts: tuple[int, int] = (1, 4),
                     epsilon_sweep: Sequence[float] | None = None,
                     transfer_f: core.ModelFn | None = None,
                     tolerance: float = 0.01, zero_accuracy: float = 0.02,
                     targeted_fraction: float = 0.9) -> Checklist:
  """Runs the attack sanity checklist on one batch.

  Args:
    f: model function ``logits = f(x)``.
    x: [B, H, W, C] clean inputs (input space).
    labels: [B] int true labels (logit indices).
    meta: the model's meta (units and box).
    epsilon: the evaluated radius in pixel units.
    key: PRNG key (random starts, noise, targets).
    norm: ``"linf"`` or ``"l2"``.
    steps: (fewer, more) PGD steps.
    restarts: (fewer, more) restarts, with ``steps[0]`` steps.
    epsilon_sweep: ascending radii up to the box for the first two checks;
      default ``epsilon * 2^k`` up to the box's :func:`~jaxviz.robustness.units.max_epsilon`.
    transfer_f: another model on the same input space (e.g. a differently
      trained one) to transfer PGD examples from; None skips that check.
    tolerance: accuracy slack of the comparisons.
    zero_accuracy: the accuracy that counts as ~0 at the largest epsilon.
    targeted_fraction: share of examples whose target probability must rise.

  Returns:
    A :class:`Checklist`.

  Raises:
    ValueError: bad arguments (checked by the attacks before any work).
  """
  validation.check_key(key)
  if not validation.check_non_negative(epsilon, "epsilon") > 0:
    raise ValueError("The checklist needs an epsilon > 0.")
  validation.check_in_range(tolerance, "tolerance", 0.0, 1.0)
  steps_few, steps_many = (validation.check_positive_int(s, "steps") for s in steps)
  restarts_few, restarts_many = (validation.check_positive_int(r, "restarts") for r in restarts)
  largest = units.max_epsilon(norm, meta.input_shape)
  if epsilon_sweep is None:
    sweep = [epsilon * 2.0 ** k for k in range(64) if epsilon * 2.0 ** k < largest]
    epsilon_sweep = sweep + [largest]
  labels = jnp.asarray(labels, jnp.int32)
  keys = jax.random.split(key, 4)
  forward = jax.jit(f)
  accuracies = {}  # white-box runs by (epsilon, steps, restarts): the sweep holds epsilon too

  def pgd_accuracy(eps, n_steps=steps_few, n_restarts=1, model=f, run_key=keys[0]):
    white_box = model is f
    run = (float(eps), n_steps, n_restarts)
    if white_box and run in accuracies:
      return accuracies[run]
    result = projected_gradient.pgd(model, x, labels, meta=meta, epsilon=eps, key=run_key,
                                    norm=norm, steps=n_steps, restarts=n_restarts)
    # result.logits are the attacked model's logits of the adversarial examples.
    logits = result.logits if white_box else forward(result.adversarial)
    accuracy = float(_accuracy(logits, labels))
    if white_box:
      accuracies[run] = accuracy
    return accuracy

  checks, details = {}, {}
  sweep_accuracy = [pgd_accuracy(e) for e in epsilon_sweep]
  details["accuracy_reaches_zero"] = {"epsilon": float(epsilon_sweep[-1]),
                                      "accuracy": sweep_accuracy[-1]}
  checks["accuracy_reaches_zero"] = sweep_accuracy[-1] <= zero_accuracy
  rises = np.diff(sweep_accuracy)
  details["accuracy_decreases_with_epsilon"] = {"epsilons": [float(e) for e in epsilon_sweep],
                                                "accuracy": sweep_accuracy}
  checks["accuracy_decreases_with_epsilon"] = bool(np.all(rises <= tolerance))

  pgd_few = pgd_accuracy(epsilon)
  pgd_many = pgd_accuracy(epsilon, n_steps=steps_many)
  restarted = pgd_accuracy(epsilon, n_restarts=restarts_many)
  if restarts_few != 1:
    pgd_few_restarts = pgd_accuracy(epsilon, n_restarts=restarts_few)
  else:
    pgd_few_restarts = pgd_few
  if norm == "linf":
    single = fast_gradient.fgsm(f, x, labels, meta=meta, epsilon=epsilon)
  else:
    single = projected_gradient.pgd(f, x, labels, meta=meta, epsilon=epsilon, norm=norm,
                                    steps=1, step_size=epsilon, random_start=False)
  single_accuracy = float(_accuracy(single.logits, labels))
  details["iterative_not_weaker_than_single_step"] = {"single_step": single_accuracy,
                                                      "pgd": pgd_few}
  checks["iterative_not_weaker_than_single_step"] = pgd_few <= single_accuracy + tolerance
  details["more_steps_not_weaker"] = {f"pgd{steps_few}": pgd_few, f"pgd{steps_many}": pgd_many}
  checks["more_steps_not_weaker"] = pgd_many <= pgd_few + tolerance
  details["more_restarts_not_weaker"] = {f"restarts{restarts_few}": pgd_few_restarts,
                                         f"restarts{restarts_many}": restarted}
  checks["more_restarts_not_weaker"] = restarted <= pgd_few_restarts + tolerance

  budget = units.make_budget(meta, norm, epsilon)
  noisy = projections.start_point(jnp.asarray(x), projections.ball_sample(
      keys[1], tuple(x.shape), norm), budget, norm)
  noise_accuracy = float(_accuracy(forward(noisy), labels))
  details["random_noise_not_stronger"] = {"noise": noise_accuracy, "pgd": pgd_few}
  checks["random_noise_not_stronger"] = noise_accuracy >= pgd_few - tolerance

  if transfer_f is not None:
    transfer_accuracy = pgd_accuracy(epsilon, model=transfer_f, run_key=keys[2])
    details["white_box_not_weaker_than_transfer"] = {"transfer": transfer_accuracy,
                                                     "white_box": pgd_few}
    checks["white_box_not_weaker_than_transfer"] = pgd_few <= transfer_accuracy + tolerance

  targets = random_targets(keys[3], np.asarray(labels), meta)
  targeted = projected_gradient.pgd(f, x, labels, meta=meta, epsilon=epsilon, key=keys[0],
                                    norm=norm, steps=steps_few, targets=targets)
  before = _probability(forward(jnp.asarray(x)), targets)
  after = _probability(targeted.logits, targets)
  raised = float(np.mean(after > before))
  details["targeted_raises_target_probability"] = {
      "fraction_raised": raised, "mean_before": float(before.mean()),
      "mean_after": float(after.mean()), "success_rate": float(np.mean(targeted.success))}
  checks["targeted_raises_target_probability"] = raised >= targeted_fraction
  return Checklist(checks={k: bool(v) for k, v in checks.items()}, details=details)
