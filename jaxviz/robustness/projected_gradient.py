"""Projected gradient descent (PGD) and the basic iterative method (BIM).

Madry et al. 2018, "Towards Deep Learning Models Resistant to Adversarial
Attacks", https://arxiv.org/abs/1706.06083 ; Kurakin, Goodfellow & Bengio
2016, "Adversarial examples in the physical world",
https://arxiv.org/abs/1607.02533 (BIM: no random start, step 1/255).

Each run starts at the clean input or at a uniformly random point of the
ball, then takes ``steps`` steepest-ascent steps of the attack loss, each
projected back onto the ball and the box
(:mod:`jaxviz.robustness.projections`). The loop is a
:func:`jax.lax.while_loop` that stops at the first non-finite loss (the
wrapper then names the step). Every iterate after the first step is a
candidate and the strongest one is kept per example (success first, then the
highest loss), as Carlini et al. 2019 recommend, so more steps at a fixed
step size never weaken the attack; one step of size epsilon without random
start is exactly FGSM.

Restarts are ``jax.vmap`` over random starts drawn from ``fold_in(key, r)``
(restart ``r`` does not depend on how many restarts there are), and the worst
case is chosen
**per example** with the same rule (ART#714 once chose the restart that was
best on average over the dataset).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxviz import validation
from jaxviz.models import meta as meta_lib
from jaxviz.robustness import core
from jaxviz.robustness import projections
from jaxviz.robustness import units

__all__ = ("NonFiniteLossError", "bim", "bim_steps", "default_step_size", "pgd", "pgd_core",
           "run_attack", "stronger")


class NonFiniteLossError(FloatingPointError):
  """The attack loss became NaN or Inf; the message names the step."""


def default_step_size(epsilon: float, steps: int) -> float:
  """Madry et al.'s rule ``2.5 * epsilon / steps`` (pixel units).

  It lets a run travel from one side of the ball to the other, and makes every
  step a fixed fraction of epsilon, so L2 and L-inf steps scale with it.
  """
  return 2.5 * epsilon / steps


def bim_steps(epsilon: float) -> int:
  """Kurakin et al.'s iteration count ``min(255 * eps + 4, 1.25 * 255 * eps)`` (>= 1)."""
  return max(1, int(min(255.0 * epsilon + 4.0, 1.25 * 255.0 * epsilon)))


def stronger(new: core.AttackResult, old: core.AttackResult) -> jax.Array:
  """[B] bool: ``new`` is the stronger candidate (success first, then higher loss)."""
  return (new.success & ~old.success) | ((new.success == old.success) & (new.loss > old.loss))


def _select(better: jax.Array, new: core.AttackResult, old: core.AttackResult
            ) -> core.AttackResult:
  def pick(a, b):
    return jnp.where(better.reshape(better.shape + (1,) * (a.ndim - 1)), a, b)
  return jax.tree.map(pick, new, old)


def _single_run(f: core.ModelFn, x0: jax.Array, goal: core.Goal, budget: units.Budget,
                offset: jax.Array, steps: jax.Array, random_start: jax.Array,
                spec: core.AttackSpec) -> tuple[core.AttackResult, jax.Array]:
  """One PGD run: ``(strongest iterate per example, first non-finite step or -1)``."""
  start = jnp.where(random_start, projections.start_point(x0, offset, budget, spec.norm), x0)
  logits_shape = jax.eval_shape(f, x0)
  empty = core.AttackResult(
      adversarial=x0, logits=jnp.zeros(logits_shape.shape, logits_shape.dtype),
      loss=jnp.full(x0.shape[:1], -jnp.inf, jnp.float32),
      success=jnp.zeros(x0.shape[:1], bool), norm=jnp.zeros(x0.shape[:1], jnp.float32))

  def cond(state):
    step, _, _, bad_step = state
    return (step < steps) & (bad_step < 0)

  def body(state):
    step, x, best, _ = state
    loss, logits, grad = core.loss_and_grad(f, x, goal, spec.loss)
    current = core.candidate(x, logits, x0, goal, budget, spec, loss)
    # The start is no candidate (one step from the clean input is FGSM).
    best = _select(stronger(current, best) & (step > 0), current, best)
    finite = jnp.all(jnp.isfinite(loss))
    moved = projections.project(projections.step(x, grad, budget, spec.norm), x0, budget,
                                spec.norm)
    return (step + 1, jnp.where(finite, moved, x), best, jnp.where(finite, -1, step))

  _, x, best, bad_step = lax.while_loop(cond, body, (jnp.int32(0), start, empty, jnp.int32(-1)))
  final = core.candidate(x, f(x), x0, goal, budget, spec)
  bad_step = jnp.where((bad_step < 0) & ~jnp.all(jnp.isfinite(final.loss)), steps, bad_step)
  return _select(stronger(final, best), final, best), bad_step


def restart_offsets(key: jax.Array, shape: tuple[int, ...], restarts: int,
                    norm: str) -> jax.Array:
  """[R, B, H, W, C] unit-ball random starts; restart ``r`` draws from ``fold_in(key, r)``."""
  return jax.vmap(lambda r: projections.ball_sample(jax.random.fold_in(key, r), shape, norm))(
      jnp.arange(restarts))


_jitted_offsets = jax.jit(restart_offsets, static_argnames=("shape", "restarts", "norm"))


def pgd_core(f: core.ModelFn, x: jax.Array, goal: core.Goal, budget: units.Budget,
             offsets: jax.Array, steps: int | jax.Array, random_start: bool | jax.Array,
             spec: core.AttackSpec) -> tuple[core.AttackResult, jax.Array]:
  """PGD with restarts on a batch, jittable (no argument checks; see :func:`pgd`).

  The random starts come in as ``offsets`` (:func:`restart_offsets`, drawn
  outside the attack's program so that it holds no random-number generator:
  compiling one costs more than the rest of a small model's attack).

  Args:
    f: model function ``logits [B, K] = f(x)`` (may close over traced params).
    x: [B, H, W, C] clean inputs (input space).
    goal: labels and, for a targeted attack, targets (:class:`~jaxviz.robustness.core.Goal`).
    budget: from :func:`~jaxviz.robustness.units.make_budget`.
    offsets: [R, B, H, W, C] the restarts' unit-ball offsets (ignored
      without random start).
    steps: gradient steps per run (an int or a traced int32 scalar).
    random_start: start at a random point of the ball (a bool or a traced one).
    spec: the static options (norm, loss, restarts).

  Returns:
    ``(result, bad_step)``: the per-example worst case over the restarts and
    the first step whose loss was not finite (``-1`` if none).
  """
  steps = jnp.asarray(steps, jnp.int32)
  random_start = jnp.asarray(random_start, bool)
  runs, bad_steps = jax.vmap(
      lambda o: _single_run(f, x, goal, budget, o, steps, random_start, spec))(offsets)

  def keep_stronger(r, best):
    candidate = jax.tree.map(lambda leaf: leaf[r], runs)
    return _select(stronger(candidate, best), candidate, best)

  best = lax.fori_loop(1, spec.restarts, keep_stronger, jax.tree.map(lambda leaf: leaf[0], runs))
  failed = bad_steps >= 0
  bad_step = jnp.where(jnp.any(failed), jnp.min(jnp.where(failed, bad_steps, steps)), -1)
  return best, bad_step


@functools.partial(jax.jit, static_argnames=("fn", "spec"))
def _pgd(fn, consts, x, goal, budget, offsets, steps, random_start, spec):
  return pgd_core(lambda v: fn(consts, v), x, goal, budget, offsets, steps, random_start, spec)


def run_attack(f: core.ModelFn, x, labels, targets, *, meta: meta_lib.ModelMeta,
               epsilon: float, step_size: float, steps: int, norm: str, restarts: int,
               random_start: bool, key: jax.Array | None, loss: str) -> core.AttackResult:
  """Checks the arguments, then runs the one compiled PGD program (FGSM, BIM and PGD).

  Raises:
    ValueError: bad arguments (before any work).
    NonFiniteLossError: the loss became NaN/Inf (the message names the step).
  """
  spec = core.AttackSpec(norm=norm, loss=loss, restarts=restarts)
  steps = validation.check_positive_int(steps, "steps")
  if restarts > 1 and not random_start:
    raise ValueError(f"restarts={restarts} without random_start repeats the same "
                     "deterministic attack; set random_start=True or restarts=1.")
  prepared, x, goal, budget = core.prepare_call(f, x, labels, targets, meta, norm=norm,
                                                epsilon=epsilon, step_size=step_size)
  if random_start:
    if key is None:
      raise ValueError("An attack with random_start=True needs key= (e.g. jax.random.key(0)).")
    validation.check_key(key)
    offsets = _jitted_offsets(key, tuple(x.shape), restarts, norm)
  else:
    offsets = jnp.zeros((1,) + tuple(x.shape), jnp.float32)
  # At epsilon 0 every iterate is the clean input: zero steps give the same result (the
  # final candidate, one forward pass), as a value of the same compiled program.
  run_steps = 0 if epsilon == 0 else steps
  # Device arrays only: jit keys numpy and device inputs apart (a second compile).
  result, bad_step = _pgd(prepared.fn, prepared.consts, x, goal, budget, offsets,
                          jnp.int32(run_steps), jnp.asarray(bool(random_start)), spec)
  bad_step = int(bad_step)
  if bad_step >= 0:
    raise NonFiniteLossError(f"The attack loss became NaN or Inf at step {bad_step} of "
                             f"{steps}; check the model's outputs on these inputs.")
  return result


def pgd(f: core.ModelFn, x: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
        meta: meta_lib.ModelMeta, epsilon: float, key: jax.Array | None = None,
        norm: str = "linf", steps: int = 40, step_size: float | None = None,
        restarts: int = 1, random_start: bool = True,
        targets: jax.typing.ArrayLike | None = None,
        loss: str = "cross_entropy") -> core.AttackResult:
  """PGD in an L-inf or L2 pixel ball (Madry et al. 2018, https://arxiv.org/abs/1706.06083).

  Args:
    f: model function ``logits [B, K] = f(x)``, any number of classes K; reuse
      the same object across calls (one trace, and one compile per norm, loss
      and number of restarts: epsilon, step size, steps, random start and
      targets are values of the program).
    x: [B, H, W, C] clean inputs in ``meta``'s input space.
    labels: [B] int true labels as logit indices (``meta.logit_index``).
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta` (units and box).
    epsilon: radius in pixel units ([0, 1] per channel), e.g. 8/255 (L-inf)
      or 0.5 (L2); see :mod:`jaxviz.robustness.units` for the L2 ball.
    key: PRNG key of the random starts (required when ``random_start``).
    norm: ``"linf"`` or ``"l2"``.
    steps: gradient steps per run.
    step_size: step size in pixel units; default :func:`default_step_size`.
    restarts: independent random starts; the worst case is kept per example.
    random_start: start at a uniform random point of the ball.
    targets: [B] int target logit indices for a targeted attack, or None.
    loss: ``"cross_entropy"`` or ``"margin"`` (Carlini & Wagner).

  Returns:
    An :class:`~jaxviz.robustness.core.AttackResult`.

  Raises:
    ValueError: bad inputs, labels, targets, budget, key or options (before
      any work).
    NonFiniteLossError: the loss became NaN/Inf (the message names the step).
  """
  if step_size is None:
    step_size = default_step_size(validation.check_non_negative(epsilon, "epsilon"),
                                  validation.check_positive_int(steps, "steps"))
  return run_attack(f, x, labels, targets, meta=meta, epsilon=epsilon, step_size=step_size,
                    steps=steps, norm=norm, restarts=restarts, random_start=random_start,
                    key=key, loss=loss)


def bim(f: core.ModelFn, x: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
        meta: meta_lib.ModelMeta, epsilon: float, steps: int | None = None,
        step_size: float = 1.0 / 255.0, targets: jax.typing.ArrayLike | None = None,
        loss: str = "cross_entropy") -> core.AttackResult:
  """The basic iterative method (Kurakin et al. 2016, https://arxiv.org/abs/1607.02533).

  L-inf PGD from the clean input with step ``1/255`` pixels and
  :func:`bim_steps` iterations by default; arguments as in :func:`pgd`.
  """
  if steps is None:
    steps = bim_steps(validation.check_non_negative(epsilon, "epsilon"))
  return run_attack(f, x, labels, targets, meta=meta, epsilon=epsilon, step_size=step_size,
                    steps=steps, norm="linf", restarts=1, random_start=False, key=None,
                    loss=loss)
