"""PGD adversarial training (Madry et al. 2018) through the training loop's ``perturb`` hook.

Madry et al., "Towards Deep Learning Models Resistant to Adversarial
Attacks", https://arxiv.org/abs/1706.06083 : train on the worst case in the
epsilon ball, found by PGD from a random start, instead of on the clean
batch. :func:`pgd_perturb` builds the
``perturb(params, images, labels, key) -> images`` function that
:func:`jaxviz.training.train` calls inside its jitted step on every batch
(with a per-step key folded from the seed and the step), so adversarial
training reuses the one training loop with its checkpoints and progress.
"""

from __future__ import annotations

import jax

from jaxviz import training
from jaxviz import validation
from jaxviz.models import meta as meta_lib
from jaxviz.robustness import core
from jaxviz.robustness import projected_gradient
from jaxviz.robustness import units

__all__ = ("Perturb", "pgd_perturb")

Perturb = training.Perturb  # perturb(params, images, labels, key) -> images


def pgd_perturb(model, meta: meta_lib.ModelMeta, *, epsilon: float, steps: int = 7,
                step_size: float | None = None, norm: str = "linf",
                loss: str = "cross_entropy") -> Perturb:
  """The ``perturb`` hook of :func:`jaxviz.training.train` for PGD adversarial training.

  Args:
    model: the Flax module being trained (``model.apply({"params": p}, x)``).
    meta: its meta (the training images are in its input space).
    epsilon: radius in pixel units (e.g. 0.1 for Fashion-MNIST).
    steps: PGD steps per batch.
    step_size: pixel units; default :func:`~jaxviz.robustness.projected_gradient.default_step_size`.
    norm: ``"linf"`` or ``"l2"``.
    loss: ``"cross_entropy"`` or ``"margin"``.

  Returns:
    ``perturb(params, images [B, H, W, C], labels [B], key) -> images``: the
    PGD adversarial examples (random start, one restart), jittable; the
    result carries no gradient to ``params``.

  Raises:
    ValueError: a bad budget or option (checked here, once).
  """
  spec = core.AttackSpec(norm=norm, loss=loss, restarts=1)
  steps = validation.check_positive_int(steps, "steps")
  if step_size is None:
    step_size = projected_gradient.default_step_size(
        validation.check_non_negative(epsilon, "epsilon"), steps)
  budget = units.make_budget(meta, norm, epsilon, step_size)

  def perturb(params, images, labels, key):
    f = lambda x: model.apply({"params": params}, x)
    offsets = projected_gradient.restart_offsets(key, images.shape, 1, norm)
    result, _ = projected_gradient.pgd_core(f, images, core.Goal.of(labels), budget, offsets,
                                            steps, True, spec)
    return jax.lax.stop_gradient(result.adversarial)

  return perturb
