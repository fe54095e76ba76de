"""Adversarial robustness: attacks in pixel units, robustness curves, a sanity checklist, shape bias.

Attacks take a model function ``logits = f(x)`` on the model's input space,
budgets in pixel units ([0, 1] per channel) and the model's
:class:`~jaxviz.models.meta.ModelMeta`, which converts them
(:mod:`jaxviz.robustness.units`):

* :func:`fgsm` (Goodfellow et al. 2014), :func:`bim` (Kurakin et al. 2016),
  :func:`pgd` (Madry et al. 2018) in L-inf and L2 balls, with random starts
  and restarts kept per example, targeted or not, cross-entropy or margin
  loss; results are :class:`AttackResult` (adversarial inputs, logits, loss,
  success, perturbation norm per example);
* :func:`robustness_curve` (accuracy against epsilon, minimal epsilon per
  example, mean confidence), :func:`attack_checklist` (Carlini et al. 2019),
  :func:`pgd_perturb` (the hook of :func:`jaxviz.training.train` for Madry
  adversarial training);
* cue-conflict shape bias (Geirhos et al. 2019): :func:`find_stimuli`,
  :func:`model_decisions`, :func:`count_shape_bias`;
* figures: :mod:`jaxviz.plotting.robustness_plots`.
"""

from jaxviz.robustness.adversarial_training import pgd_perturb
from jaxviz.robustness.core import AttackResult
from jaxviz.robustness.core import AttackSpec
from jaxviz.robustness.core import Goal
from jaxviz.robustness.evaluation import make_attack
from jaxviz.robustness.evaluation import robustness_curve
from jaxviz.robustness.evaluation import RobustnessCurve
from jaxviz.robustness.fast_gradient import fgsm
from jaxviz.robustness.losses import LOSSES
from jaxviz.robustness.projected_gradient import bim
from jaxviz.robustness.projected_gradient import NonFiniteLossError
from jaxviz.robustness.projected_gradient import pgd
from jaxviz.robustness.projected_gradient import pgd_core
from jaxviz.robustness.projected_gradient import restart_offsets
from jaxviz.robustness.sanity import attack_checklist
from jaxviz.robustness.sanity import Checklist
from jaxviz.robustness.shape_bias import CATEGORIES
from jaxviz.robustness.shape_bias import count_shape_bias
from jaxviz.robustness.shape_bias import CueConflictStimuli
from jaxviz.robustness.shape_bias import find_stimuli
from jaxviz.robustness.shape_bias import load_category_indices
from jaxviz.robustness.shape_bias import model_decisions
from jaxviz.robustness.shape_bias import REFERENCE_SHAPE_BIAS
from jaxviz.robustness.shape_bias import ShapeBias
from jaxviz.robustness.units import make_budget
from jaxviz.robustness.units import NORMS

__all__ = (
    "CATEGORIES",
    "LOSSES",
    "NORMS",
    "REFERENCE_SHAPE_BIAS",
    "AttackResult",
    "AttackSpec",
    "Checklist",
    "CueConflictStimuli",
    "Goal",
    "NonFiniteLossError",
    "RobustnessCurve",
    "ShapeBias",
    "attack_checklist",
    "bim",
    "count_shape_bias",
    "fgsm",
    "find_stimuli",
    "load_category_indices",
    "make_attack",
    "make_budget",
    "model_decisions",
    "pgd",
    "pgd_core",
    "pgd_perturb",
    "restart_offsets",
    "robustness_curve",
)
