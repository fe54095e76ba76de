"""Feature visualization of MobileNetV2 channels, shallow to deep, pixel vs Fourier.

python -m experiments.feature_vis --config=configs/feature_vis.py --workdir=/tmp/jaxviz_feature_vis

Lucid's canonical settings (``preset = "lucid"``: Adam 0.05, 512 steps,
128 px, its standard transforms, the redirected ReLU gradient for 16 steps).
The real photos that the activations are compared with: the shared sample
photos and the foolbox ImageNet samples. ``:smoke`` runs in seconds with no
asset: a tiny CNN trained on scikit-learn's 8x8 digits, its two conv layers,
8 steps, the digits test images as the "photos".
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = "mobilenet_v2"  # or small_cnn
  config.seed = 0
  config.preset = "lucid"  # lucid_fixed_size for fixed-size models
  config.steps = 0  # 0 = the preset's
  config.size = 0  # image side in px; 0 = the preset's (lucid: 128)
  config.parameterizations = ("fourier", "pixel")  # the first is the default
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.mobilenet_v2 = ml_collections.ConfigDict({
      "weights": "",
      "images": "",  # photo folder; default: $JAXVIZ_DATA_DIR/sample_images_imagenet
      # Block outputs from Lucid's canonical list expanded_conv_{2,4,5,7,8,9,11,12,14,15}.
      "layers": ("expanded_conv_2", "expanded_conv_5", "expanded_conv_8", "expanded_conv_12",
                 "expanded_conv_15"),
      "channels": (0, 5),
      # ReLU6 layers whose channels dead on the starting image show the redirect.
      "redirect_layers": ("expanded_conv_5/expand", "expanded_conv_12/depthwise", "Conv_1"),
      "redirect_channels": 2,
  })
  config.small_cnn = ml_collections.ConfigDict({
      "layers": ("conv1", "conv2"),
      "channels": (0, 1),
      "redirect_layers": (),
      "redirect_channels": 1,
      "num_photos": 200,  # test images the activations are compared with
  })
  return common.with_variant(config, arg, {
      "smoke": {"model": "small_cnn", "preset": "lucid_fixed_size", "steps": 8,
                "parameterizations": ("fourier",),
                "cnn_workdir": "", "cnn_train": train.get_config("smoke"),
                "small_cnn.layers": ("conv2",), "small_cnn.redirect_layers": ("fc1",),
                "small_cnn.redirect_channels": 2},
  })
