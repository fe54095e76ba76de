"""Gradient-based attribution for any JAX model ``logits = f(x)``.

Methods take ``f`` (or a layer function from ``jaxviz.models.taps`` for
layer-level methods), inputs ``x`` [B, H, W, C] and integer ``targets`` [B]
or [B, T], and return attributions [B, (T,) H, W, C] or maps [B, (T,) H, W].

SmoothGrad, integrated gradients and occlusion live in modules of the same
name as their function: ``from jaxviz.attribution.smoothgrad import
smoothgrad`` (re-exporting them here would shadow the modules).
"""

from jaxviz.attribution.backward_rules import apply_backward_rule
from jaxviz.attribution.backward_rules import NoRectifierError
from jaxviz.attribution.backward_rules import rectifier_count
from jaxviz.attribution.backward_rules import RewriteReport
from jaxviz.attribution.backward_rules import RULES
from jaxviz.attribution.cam import grad_cam
from jaxviz.attribution.cam import guided_grad_cam
from jaxviz.attribution.gradients import backward_rule_report
from jaxviz.attribution.gradients import input_gradients
from jaxviz.attribution.neuron import Neuron
from jaxviz.attribution.neuron import neuron_gradients
from jaxviz.attribution.neuron import top_channels
from jaxviz.attribution.reductions import input_x_gradient
from jaxviz.attribution.reductions import normalize_maps
from jaxviz.attribution.reductions import reduce_channels
from jaxviz.attribution.reductions import saliency_map
from jaxviz.attribution.sanity import cascading_randomization
from jaxviz.attribution.sanity import independent_randomization
from jaxviz.attribution.sanity import spearman_rank_correlation
from jaxviz.attribution.segmentation import saliency_grabcut
from jaxviz.attribution.bias import add_mark
from jaxviz.attribution.bias import biased_dataset
from jaxviz.attribution.bias import mark_region
from jaxviz.attribution.bias import mark_saliency_fraction
from jaxviz.attribution.bias import region_saliency_fractions
