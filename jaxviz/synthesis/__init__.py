"""Input synthesis: class-model visualization and feature visualization.

Modules, one job each: :mod:`~jaxviz.synthesis.parameterizations` (pixel and
decorrelated Fourier images), :mod:`~jaxviz.synthesis.colour` (the colour
square root behind the decorrelation), :mod:`~jaxviz.synthesis.objectives`
(class scores, channels, neurons of any named layer),
:mod:`~jaxviz.synthesis.regularizers` (Simonyan's L2 penalty, Yosinski's
decay, blur and clipping), :mod:`~jaxviz.synthesis.transforms`
(transformation robustness), :mod:`~jaxviz.synthesis.ascent` (the loop),
:mod:`~jaxviz.synthesis.presets` (published settings converted to each
model) and :mod:`~jaxviz.synthesis.quality` (numbers that say how good an
image is).
"""

from jaxviz.synthesis.ascent import ascend
from jaxviz.synthesis.ascent import AscentConfig
from jaxviz.synthesis.ascent import AscentResult
from jaxviz.synthesis.ascent import NonFiniteObjectiveError
from jaxviz.synthesis.ascent import OPTIMIZERS
from jaxviz.synthesis.colour import covariance_sqrt
from jaxviz.synthesis.colour import decorrelation_matrix
from jaxviz.synthesis.colour import RGB_COVARIANCE_SQRT
from jaxviz.synthesis.objectives import CLASS_KINDS
from jaxviz.synthesis.objectives import layer_fn
from jaxviz.synthesis.objectives import Objective
from jaxviz.synthesis.objectives import OBJECTIVES
from jaxviz.synthesis.parameterizations import fourier
from jaxviz.synthesis.parameterizations import FourierParameterization
from jaxviz.synthesis.parameterizations import frequency_scale
from jaxviz.synthesis.parameterizations import PARAMETERIZATIONS
from jaxviz.synthesis.parameterizations import pixel
from jaxviz.synthesis.parameterizations import PixelParameterization
from jaxviz.synthesis.presets import Preset
from jaxviz.synthesis.presets import preset
from jaxviz.synthesis.presets import PRESETS
from jaxviz.synthesis.presets import yosinski_caffe_settings
from jaxviz.synthesis.quality import best_photo_activations
from jaxviz.synthesis.quality import class_probabilities
from jaxviz.synthesis.quality import high_frequency_energy
from jaxviz.synthesis.quality import resize_for
from jaxviz.synthesis.quality import transfer_probabilities
from jaxviz.synthesis.quality import unit_activations
from jaxviz.synthesis.transforms import Transforms

__all__ = (
    "AscentConfig",
    "AscentResult",
    "CLASS_KINDS",
    "FourierParameterization",
    "NonFiniteObjectiveError",
    "OBJECTIVES",
    "OPTIMIZERS",
    "Objective",
    "PARAMETERIZATIONS",
    "PRESETS",
    "PixelParameterization",
    "Preset",
    "RGB_COVARIANCE_SQRT",
    "Transforms",
    "ascend",
    "best_photo_activations",
    "class_probabilities",
    "covariance_sqrt",
    "decorrelation_matrix",
    "fourier",
    "frequency_scale",
    "high_frequency_energy",
    "layer_fn",
    "pixel",
    "preset",
    "resize_for",
    "transfer_probabilities",
    "unit_activations",
    "yosinski_caffe_settings",
)
