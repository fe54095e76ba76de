"""Models (Flax) and weight loaders; each loader returns ``(model, params, meta)``."""

from jaxviz.models.init import random_params
from jaxviz.models.meta import ModelMeta
from jaxviz.models.mobilenet import MobileNetV1
from jaxviz.models.mobilenet import MobileNetV2
from jaxviz.models.mobilenet_loader import imagenet_class_names
from jaxviz.models.mobilenet_loader import load_mobilenet
from jaxviz.models.registry import build_small_model
from jaxviz.models.registry import load_model
from jaxviz.models.registry import load_trained
from jaxviz.models.registry import meta_from_spec
from jaxviz.models.registry import MODEL_NAMES
from jaxviz.models.small_cnn import LinearSoftmax
from jaxviz.models.small_cnn import SmallCNN
from jaxviz.models.taps import activations
from jaxviz.models.taps import flax_layer_fn
from jaxviz.models.taps import layer_names
from jaxviz.models.taps import split_layer_fn
from jaxviz.models.vgg import load_vgg_safetensors
from jaxviz.models.vgg import VGG
from jaxviz.models.vgg import vgg_builder

__all__ = (
    "LinearSoftmax",
    "MODEL_NAMES",
    "MobileNetV1",
    "MobileNetV2",
    "ModelMeta",
    "SmallCNN",
    "VGG",
    "activations",
    "build_small_model",
    "flax_layer_fn",
    "imagenet_class_names",
    "layer_names",
    "load_mobilenet",
    "load_model",
    "load_trained",
    "load_vgg_safetensors",
    "meta_from_spec",
    "random_params",
    "split_layer_fn",
    "vgg_builder",
)
