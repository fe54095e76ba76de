"""What every attack shares: its options, its result, its argument checks.

An attack is a pure, jittable ``*_core(f, x, goal, budget, ...)``
function of any model function ``logits = f(x)`` (usable inside a training
step, where ``f`` closes over traced parameters) and a public wrapper that
checks every argument on concrete values before any work, traces ``f`` once
per input shape (:func:`jaxviz.attribution.gradients.prepare` hoists its
parameters out of the compiled program) and runs one jitted program per
configuration. Epsilon, step size, the number of steps, the random start and
the goal (untargeted or targeted, :class:`Goal`) are values of the program,
not part of its configuration: FGSM, BIM, PGD, a sweep over epsilon and a
targeted attack all run the same compiled program; only the norm, the loss
and the number of restarts select another.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.models import meta as meta_lib
from jaxviz.robustness import losses
from jaxviz.robustness import units

__all__ = ("AttackResult", "AttackSpec", "Goal", "candidate", "goal_loss", "goal_success",
           "loss_and_grad", "prepare_call")

ModelFn = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class AttackSpec:
  """The static options of an attack (one compiled program per distinct spec).

  Attributes:
    norm: ``"linf"`` or ``"l2"``.
    loss: ``"cross_entropy"`` or ``"margin"`` (:mod:`jaxviz.robustness.losses`).
    restarts: independent runs per example; the worst case is kept per example.
  """

  norm: str = "linf"
  loss: str = "cross_entropy"
  restarts: int = 1

  def __post_init__(self):
    if self.norm not in units.NORMS:
      raise ValueError(f"Unknown norm {self.norm!r}; expected one of {units.NORMS}.")
    losses.attack_loss(self.loss)
    validation.check_positive_int(self.restarts, "restarts")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Goal:
  """What an attack wants, as arrays (targeted and untargeted share one program).

  Attributes:
    labels: [B] int32 true labels (logit indices).
    targets: [B] int32 target labels of a targeted attack (ignored otherwise).
    targeted: scalar bool.
  """

  labels: jax.Array
  targets: jax.Array
  targeted: jax.Array

  @classmethod
  def of(cls, labels: jax.Array, targets: jax.Array | None = None) -> "Goal":
    """Untargeted when ``targets`` is None, else targeted at ``targets``."""
    labels = jnp.asarray(labels, jnp.int32)
    if targets is None:
      return cls(labels, labels, jnp.asarray(False))
    return cls(labels, jnp.asarray(targets, jnp.int32), jnp.asarray(True))


def goal_loss(loss: str, logits: jax.Array, goal: Goal) -> jax.Array:
  """[B] the attack loss ``loss`` towards ``goal`` (see :mod:`jaxviz.robustness.losses`)."""
  fn = losses.attack_loss(loss)
  return jnp.where(goal.targeted, fn(logits, goal.labels, goal.targets), fn(logits, goal.labels))


def goal_success(logits: jax.Array, goal: Goal) -> jax.Array:
  """[B] bool: ``goal`` is reached (misclassified, or classified as the target)."""
  return jnp.where(goal.targeted, losses.succeeded(logits, goal.labels, goal.targets),
                   losses.succeeded(logits, goal.labels))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AttackResult:
  """Per-example outcome of an attack on a batch of B examples.

  Attributes:
    adversarial: [B, H, W, C] adversarial inputs (model input space), inside
      the epsilon ball around the clean inputs and inside the box.
    logits: [B, K] the model's logits on ``adversarial``.
    loss: [B] the attack loss at ``adversarial`` (higher = stronger).
    success: [B] bool, the prediction differs from the label (untargeted) or
      equals the target (targeted).
    norm: [B] the perturbation's norm in pixel units (L-inf or L2, as attacked).
  """

  adversarial: jax.Array
  logits: jax.Array
  loss: jax.Array
  success: jax.Array
  norm: jax.Array


def loss_and_grad(f: ModelFn, x: jax.Array, goal: Goal,
                  loss: str) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``(losses [B], logits [B, K], d losses / d x [B, H, W, C])`` in one forward/backward.

  The examples of a batch do not interact, so the gradient of the summed loss
  is each example's own gradient.
  """

  def total(v):
    logits = f(v)
    per_example = goal_loss(loss, logits, goal)
    return jnp.sum(per_example), (per_example, logits)

  (_, (per_example, logits)), grad = jax.value_and_grad(total, has_aux=True)(x)
  return per_example, logits, grad


def candidate(x_adv: jax.Array, logits: jax.Array, x0: jax.Array, goal: Goal,
              budget: units.Budget, spec: AttackSpec,
              loss: jax.Array | None = None) -> AttackResult:
  """The :class:`AttackResult` of ``x_adv`` from its logits (and loss, if known)."""
  return AttackResult(adversarial=x_adv, logits=logits,
                      loss=goal_loss(spec.loss, logits, goal) if loss is None else loss,
                      success=goal_success(logits, goal),
                      norm=units.pixel_norm(x_adv - x0, budget.unit, spec.norm))


def _as_labels(values, batch: int, num_logits: int, name: str) -> jax.Array:
  if not hasattr(values, "shape"):
    values = np.asarray(values)
  if getattr(values, "ndim", None) != 1:
    raise ValueError(f"{name} must have shape [B] with B={batch}, got {np.shape(values)}.")
  validation.check_targets(values, batch, num_logits, name=name)
  return jnp.asarray(values, jnp.int32)


def prepare_call(f: ModelFn, x, labels, targets, meta: meta_lib.ModelMeta, *, norm: str,
                 epsilon: float, step_size: float | None
                 ) -> tuple[gradients.Prepared, jax.Array, Goal, units.Budget]:
  """Checks an attack's arguments and prepares its model function (before any work).

  Args:
    f: model function ``logits [B, K] = f(x)``; reuse one object across calls.
    x: [B, H, W, C] clean inputs in ``meta``'s input space, inside its box.
    labels: [B] int true labels (logit indices, i.e. with ``meta.label_offset``).
    targets: [B] int target logit indices of a targeted attack, or None.
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta`.
    norm: ``"linf"`` or ``"l2"``.
    epsilon: radius in pixel units.
    step_size: step size in pixel units (None: epsilon).

  Returns:
    ``(prepared f, x, goal, budget)`` as device arrays.

  Raises:
    ValueError: bad inputs, labels or targets out of range, a target equal to
      its label, logits not [B, K], or a bad budget (see
      :func:`~jaxviz.robustness.units.make_budget`).
  """
  validation.check_in_box(x, meta)
  budget = units.make_budget(meta, norm, epsilon, step_size)
  prepared = gradients.prepare(f, "gradient", x)
  num_logits = gradients.check_logits(prepared.out_shape, x.shape[0])
  labels = _as_labels(labels, x.shape[0], num_logits, "labels")
  if targets is not None:
    targets = _as_labels(targets, x.shape[0], num_logits, "targets")
    same = np.flatnonzero(np.asarray(targets) == np.asarray(labels))
    if same.size:
      raise ValueError(f"A targeted attack needs targets different from the labels; they are "
                       f"equal for examples {same[:10].tolist()}"
                       f"{' ...' if same.size > 10 else ''}.")
  return prepared, jnp.asarray(x), Goal.of(labels, targets), budget
