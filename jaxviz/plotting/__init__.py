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
