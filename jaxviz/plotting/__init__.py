"""Figures (numpy + matplotlib only, no JAX inside)."""

from jaxviz.plotting.attribution_extras import sanity_figure
from jaxviz.plotting.attribution_extras import segmentation_figure
from jaxviz.plotting.bias_plots import BarPanel
from jaxviz.plotting.bias_plots import saliency_overlay_figure
from jaxviz.plotting.bias_plots import summary_bars
from jaxviz.plotting.common import new_figure
from jaxviz.plotting.common import show_image
from jaxviz.plotting.heatmaps import dimmed_grayscale
from jaxviz.plotting.heatmaps import method_grid_figure
from jaxviz.plotting.heatmaps import neuron_grid_figure
from jaxviz.plotting.heatmaps import overlay
from jaxviz.plotting.inspect_plots import class_templates_figure
from jaxviz.plotting.inspect_plots import embedding_figure
from jaxviz.plotting.inspect_plots import feature_map_figure
from jaxviz.plotting.inspect_plots import filter_slices_figure
from jaxviz.plotting.inspect_plots import filters_figure
from jaxviz.plotting.inspect_plots import mosaic_canvas
from jaxviz.plotting.inspect_plots import mosaic_figure
from jaxviz.plotting.inspect_plots import top_activations_figure
from jaxviz.plotting.predictions import prediction_grid
from jaxviz.plotting.robustness_plots import adversarial_examples_figure
from jaxviz.plotting.robustness_plots import robustness_curves_figure
from jaxviz.plotting.robustness_plots import saliency_comparison_figure
from jaxviz.plotting.robustness_plots import shape_bias_figure
from jaxviz.plotting.synthesis_plots import synthesis_grid_figure

__all__ = (
    "adversarial_examples_figure",
    "BarPanel",
    "class_templates_figure",
    "dimmed_grayscale",
    "embedding_figure",
    "feature_map_figure",
    "filter_slices_figure",
    "filters_figure",
    "method_grid_figure",
    "mosaic_canvas",
    "mosaic_figure",
    "neuron_grid_figure",
    "new_figure",
    "overlay",
    "prediction_grid",
    "robustness_curves_figure",
    "saliency_comparison_figure",
    "saliency_overlay_figure",
    "sanity_figure",
    "segmentation_figure",
    "shape_bias_figure",
    "show_image",
    "summary_bars",
    "synthesis_grid_figure",
    "top_activations_figure",
)
