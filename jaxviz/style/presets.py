"""Named style transfer settings: Gatys' on VGG19, and the ones chosen for MobileNetV2.

* ``"gatys_vgg19"``: Gatys et al. 2016 as jcjohnson/neural-style runs it:
  content ``conv4_2``; style ``conv1_1, conv2_1, conv3_1, conv4_1, conv5_1``
  (weight 1 each; jaxviz's VGG conv layers are post-ReLU, i.e. ``relu*_*``);
  content weight 5, style weight 100, TV 1e-3, 1000 L-BFGS iterations from
  noise. jcjohnson tuned those weights for the Caffe VGG19 on 0-255 inputs;
  jaxviz's VGG takes torchvision's mean/std-normalised inputs, whose features
  are on another scale, so with torchvision weights the balance may need
  :func:`jaxviz.style.calibrate` or a larger ``style_weight``.
* ``"mobilenet_v2"``: the settings chosen for ImageNet MobileNetV2 1.0/224.
  Content: ``expanded_conv_6/expand`` (ReLU6, 1/8 resolution, as VGG's
  ``conv4_2``). Style: ten ReLU6 outputs from 1/2 to 1/16 resolution, the
  first conv, the first depthwise conv and the expansions of blocks 1, 2, 3,
  4, 6, 7, 10 and 13, weight 1 each. 300 L-BFGS iterations from the content
  image. The weights come from :func:`jaxviz.style.calibrate` on the
  Tuebingen photo and the four paintings (192x256): content layer weight
  0.73, style weight 1.1e5 (the geometric mean of the per-layer balanced
  weights), TV 1e-7 (8-bit pixel units).
* ``"mobilenet_v2_blocks"``: the same blocks with the style read at the
  block outputs (the linear bottlenecks after the residual sum), calibrated
  the same way (style weight 120).

Why the expansions. MobileNetV2's block outputs are linear and peaky
(values up to 20-44 around a mean of ~0; the normalised entropy of their
softmax is 0.03-0.4), its ReLU6 expansions bounded and spread (entropy
0.85-0.96). ``experiments.style_transfer`` (192x256, 150 L-BFGS iterations,
four styles) measures each option with the held-out MobileNetV1 style
distance, which starts at 0.106 / 0.116 / 0.102 / 0.113 (Starry Night, The
Scream, Shipwreck, Matisse) and ends at:

* block outputs: 0.025 / 0.065 / 0.069 / 0.049, blotchy flat patches;
* block outputs + SWAG (the paper's softmax, T = 1): 0.106 / 0.116 / 0.101 /
  0.113: the picture hardly changes although the SWAG style loss falls
  55-6000x; the softmax of such peaky maps is nearly one-hot, and matching
  it fools the optimised network only;
* ReLU6 expansions (this preset): 0.031 / 0.030 / 0.019 / 0.039, the
  paintings' strokes and colours on an intact photo (content loss 0.15-0.25);
* expansions + SWAG: 0.048 / 0.045 / 0.030 / 0.063, a weaker style;
* expansions + Fourier parameterization: 0.044 / 0.026 / 0.014 / 0.027,
  bolder colour masses, but the photo suffers (content loss 0.18-0.37, a
  dark blot across Starry Night's sky); an option, not the default.
"""

from __future__ import annotations

from jaxviz.style.config import StyleConfig

__all__ = ("MOBILENET_V2_BLOCK_OUTPUTS", "MOBILENET_V2_EXPANSIONS", "PRESETS", "preset")

GATYS_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
MOBILENET_V2_BLOCKS = (1, 2, 3, 4, 6, 7, 10, 13)
MOBILENET_V2_EXPANSIONS = ("Conv", "expanded_conv/depthwise") + tuple(
    f"expanded_conv_{b}/expand" for b in MOBILENET_V2_BLOCKS)
MOBILENET_V2_BLOCK_OUTPUTS = ("Conv", "expanded_conv") + tuple(
    f"expanded_conv_{b}" for b in MOBILENET_V2_BLOCKS)
MOBILENET_V2_CONTENT = {"expanded_conv_6/expand": 0.73}

PRESETS: dict[str, StyleConfig] = {
    "gatys_vgg19": StyleConfig(
        content_layers={"conv4_2": 1.0}, style_layers=GATYS_STYLE_LAYERS,
        content_weight=5.0, style_weight=100.0, tv_weight=1e-3, optimizer="lbfgs",
        iterations=1000, init="noise", init_noise=0.001 / 255),
    "mobilenet_v2": StyleConfig(
        content_layers=MOBILENET_V2_CONTENT, style_layers=MOBILENET_V2_EXPANSIONS,
        content_weight=1.0, style_weight=1.1e5, tv_weight=1e-7, optimizer="lbfgs",
        iterations=300, init="content"),
    "mobilenet_v2_blocks": StyleConfig(
        content_layers=MOBILENET_V2_CONTENT, style_layers=MOBILENET_V2_BLOCK_OUTPUTS,
        content_weight=1.0, style_weight=120.0, tv_weight=1e-7, optimizer="lbfgs",
        iterations=300, init="content"),
}


def preset(name: str, **changes) -> StyleConfig:
  """The preset ``name`` (see the module docstring), with ``changes`` applied.

  Raises:
    ValueError: an unknown preset (the message lists the known ones) or a
      bad change.
  """
  if name not in PRESETS:
    raise ValueError(f"Unknown style preset {name!r}; known presets: {sorted(PRESETS)}.")
  return PRESETS[name].replace(**changes) if changes else PRESETS[name]
