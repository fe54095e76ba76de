"""The fast gradient sign method (FGSM).

Goodfellow, Shlens & Szegedy 2014, "Explaining and Harnessing Adversarial
Examples", https://arxiv.org/abs/1412.6572 :
``x_adv = clip_box(x + epsilon * sign(grad_x loss))`` with epsilon in pixel
units, i.e. ``meta.pixel_budget(epsilon)`` per input channel. A targeted
attack descends the target's cross-entropy (it ascends ``-CE(target)``).

FGSM is one L-inf PGD step of size epsilon from the clean input, and runs as
exactly that: the same compiled program as PGD and BIM
(:mod:`jaxviz.robustness.projected_gradient`).
"""

from __future__ import annotations

import jax

from jaxviz.models import meta as meta_lib
from jaxviz.robustness import core
from jaxviz.robustness import projected_gradient

__all__ = ("fgsm",)


def fgsm(f: core.ModelFn, x: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, *,
         meta: meta_lib.ModelMeta, epsilon: float,
         targets: jax.typing.ArrayLike | None = None,
         loss: str = "cross_entropy") -> core.AttackResult:
  """FGSM (Goodfellow et al. 2014, https://arxiv.org/abs/1412.6572).

  Args:
    f: model function ``logits [B, K] = f(x)``, any number of classes K; reuse
      the same object across calls (one trace and one compile per shape).
    x: [B, H, W, C] clean inputs in ``meta``'s input space.
    labels: [B] int true labels as logit indices (``meta.logit_index``).
    meta: the model's :class:`~jaxviz.models.meta.ModelMeta` (units and box).
    epsilon: L-inf radius in pixel units ([0, 1] per channel), e.g. 8/255.
    targets: [B] int target logit indices for a targeted attack, or None.
    loss: ``"cross_entropy"`` (the paper) or ``"margin"``.

  Returns:
    An :class:`~jaxviz.robustness.core.AttackResult`.

  Raises:
    ValueError: bad inputs, labels, targets or budget (before any work).
    NonFiniteLossError: the loss is NaN/Inf.
  """
  return projected_gradient.run_attack(f, x, labels, targets, meta=meta, epsilon=epsilon,
                                       step_size=epsilon, steps=1, norm="linf", restarts=1,
                                       random_start=False, key=None, loss=loss)
