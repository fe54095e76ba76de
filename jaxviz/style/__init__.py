"""Neural style transfer (Gatys et al. 2016) on any model with named layers.

One job per module: :mod:`~jaxviz.style.losses` (content, normalised Gram
style loss with per-layer weights, total variation),
:mod:`~jaxviz.style.features` (the activations of named layers in one pass),
:mod:`~jaxviz.style.config` (:class:`StyleConfig`: every choice, validated),
:mod:`~jaxviz.style.objective` (targets and loss terms),
:mod:`~jaxviz.style.init` (content, style or noise start),
:mod:`~jaxviz.style.remedies` (SWAG's softmax, the Fourier parameterization),
:mod:`~jaxviz.style.transfer` (the jitted L-BFGS/Adam loop over many styles
at once), :mod:`~jaxviz.style.calibration` (loss weights for any network),
:mod:`~jaxviz.style.presets` (Gatys' VGG19 settings and the MobileNetV2
ones, with their evidence), :mod:`~jaxviz.style.heldout` (the style distance
seen by a network that was not optimised) and :mod:`~jaxviz.style.images`
(content and style pictures at one size).
"""

from jaxviz.style.calibration import balanced_layer_weights
from jaxviz.style.calibration import calibrate
from jaxviz.style.config import INITS
from jaxviz.style.config import layer_weights
from jaxviz.style.config import OPTIMIZERS
from jaxviz.style.config import PARAMETERIZATIONS
from jaxviz.style.config import StyleConfig
from jaxviz.style.features import check_extractor_layers
from jaxviz.style.features import FeatureExtractor
from jaxviz.style.features import LayerFeatures
from jaxviz.style.heldout import HELDOUT_LAYERS
from jaxviz.style.heldout import HELDOUT_MODEL
from jaxviz.style.heldout import load_style_judge
from jaxviz.style.heldout import StyleJudge
from jaxviz.style.images import cover_resize
from jaxviz.style.images import load_style_images
from jaxviz.style.images import prepare_style_images
from jaxviz.style.images import StyleImages
from jaxviz.style.init import initial_images
from jaxviz.style.losses import content_loss
from jaxviz.style.losses import gram_matrix
from jaxviz.style.losses import mean_squared_difference
from jaxviz.style.losses import style_loss
from jaxviz.style.losses import total_variation
from jaxviz.style.objective import loss_terms
from jaxviz.style.objective import make_targets
from jaxviz.style.objective import pixels_255
from jaxviz.style.objective import Targets
from jaxviz.style.objective import TERMS
from jaxviz.style.presets import preset
from jaxviz.style.presets import PRESETS
from jaxviz.style.remedies import image_parameterization
from jaxviz.style.remedies import swag_softmax
from jaxviz.style.transfer import style_transfer
from jaxviz.style.transfer import StyleResult
from jaxviz.style.transfer import to_uint8

__all__ = (
    "FeatureExtractor",
    "HELDOUT_LAYERS",
    "HELDOUT_MODEL",
    "INITS",
    "LayerFeatures",
    "OPTIMIZERS",
    "PARAMETERIZATIONS",
    "PRESETS",
    "StyleConfig",
    "StyleImages",
    "StyleJudge",
    "StyleResult",
    "TERMS",
    "Targets",
    "balanced_layer_weights",
    "calibrate",
    "check_extractor_layers",
    "content_loss",
    "cover_resize",
    "gram_matrix",
    "image_parameterization",
    "initial_images",
    "layer_weights",
    "load_style_images",
    "load_style_judge",
    "loss_terms",
    "make_targets",
    "mean_squared_difference",
    "pixels_255",
    "prepare_style_images",
    "preset",
    "style_loss",
    "style_transfer",
    "swag_softmax",
    "to_uint8",
    "total_variation",
)
