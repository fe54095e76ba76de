"""Models (Flax) and weight loaders; each loader returns (model, params, meta)."""

from jaxviz.models.meta import ModelMeta
from jaxviz.models.mobilenet import MobileNetV1
from jaxviz.models.mobilenet import MobileNetV2
from jaxviz.models.mobilenet_loader import imagenet_class_names
from jaxviz.models.mobilenet_loader import load_mobilenet
from jaxviz.models.registry import load_model
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
