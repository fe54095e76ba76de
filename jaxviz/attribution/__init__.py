"""Gradient-based attribution for any JAX model ``logits = f(x)``.

Methods take ``f`` (or a layer function from ``jaxviz.models.taps`` for
layer-level methods), inputs ``x`` [B, H, W, C] and integer ``targets`` [B]
or [B, T], and return attributions [B, (T,) H, W, C] or maps [B, (T,) H, W].
"""

from jaxviz.attribution.backward_rules import apply_backward_rule
from jaxviz.attribution.backward_rules import NoRectifierError
from jaxviz.attribution.backward_rules import rectifier_count
from jaxviz.attribution.backward_rules import RewriteReport
from jaxviz.attribution.backward_rules import RULES
from jaxviz.attribution.bias import mark_saliency_fraction
from jaxviz.attribution.bias import region_saliency_fractions
from jaxviz.attribution.cam import grad_cam
from jaxviz.attribution.cam import guided_grad_cam
from jaxviz.attribution.gradients import backward_rule_report
from jaxviz.attribution.gradients import input_gradients
from jaxviz.attribution.neuron import Neuron
from jaxviz.attribution.neuron import neuron_gradients
from jaxviz.attribution.neuron import top_channels
from jaxviz.attribution.occlusion_maps import occlusion
from jaxviz.attribution.path_integrals import integrated_gradients
from jaxviz.attribution.path_integrals import integration_points
from jaxviz.attribution.reductions import input_x_gradient
from jaxviz.attribution.reductions import normalize_maps
from jaxviz.attribution.reductions import reduce_channels
from jaxviz.attribution.reductions import REDUCTIONS
from jaxviz.attribution.reductions import saliency_map
from jaxviz.attribution.sanity import cascading_randomization
from jaxviz.attribution.sanity import independent_randomization
from jaxviz.attribution.sanity import spearman_rank_correlation
from jaxviz.attribution.segmentation import saliency_grabcut
from jaxviz.attribution.smoothing import smoothgrad

__all__ = (
    "NoRectifierError",
    "Neuron",
    "REDUCTIONS",
    "RULES",
    "RewriteReport",
    "apply_backward_rule",
    "backward_rule_report",
    "cascading_randomization",
    "grad_cam",
    "guided_grad_cam",
    "independent_randomization",
    "input_gradients",
    "input_x_gradient",
    "integrated_gradients",
    "integration_points",
    "mark_saliency_fraction",
    "neuron_gradients",
    "normalize_maps",
    "occlusion",
    "rectifier_count",
    "reduce_channels",
    "region_saliency_fractions",
    "saliency_grabcut",
    "saliency_map",
    "smoothgrad",
    "spearman_rank_correlation",
    "top_channels",
)
