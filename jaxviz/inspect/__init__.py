"""Inspecting what a network learned: weights, activations, top inputs, embeddings."""

from jaxviz.inspect.embeddings import knn_agreement
from jaxviz.inspect.embeddings import knn_indices
from jaxviz.inspect.embeddings import pca
from jaxviz.inspect.embeddings import tsne
from jaxviz.inspect.features import extract_features
from jaxviz.inspect.features import feature_maps
from jaxviz.inspect.features import most_active_channels
from jaxviz.inspect.top_activations import crop_patch
from jaxviz.inspect.top_activations import receptive_field
from jaxviz.inspect.top_activations import ReceptiveField
from jaxviz.inspect.top_activations import top_activating_inputs
from jaxviz.inspect.top_activations import TopActivations
from jaxviz.inspect.weights import class_templates
from jaxviz.inspect.weights import filter_grid
from jaxviz.inspect.weights import layer_kernel

__all__ = (
    "class_templates",
    "crop_patch",
    "extract_features",
    "feature_maps",
    "filter_grid",
    "knn_agreement",
    "knn_indices",
    "layer_kernel",
    "most_active_channels",
    "pca",
    "receptive_field",
    "ReceptiveField",
    "top_activating_inputs",
    "TopActivations",
    "tsne",
)
