"""Guided backprop of each image's strongest channels, shallow to deep layers.

python -m experiments.neuron --config=configs/neuron.py --workdir=/tmp/jaxviz_neuron

The small CNN is trained on demand (``configs/train.py``) into
``cnn_workdir`` when that holds no trained model. MobileNetV2 is skipped
(logged, and named under ``skipped`` in summary.json) when its weights are not
found. ``:smoke`` is a seconds-long variant for tests (small CNN trained on
scikit-learn's 8x8 digits; MobileNetV2 left out).
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("mobilenet_v2", "small_cnn")
  config.rule = "guided_backprop"  # guided_backprop | deconvnet | gradient
  config.percentile = 99.0  # display scale of each panel: this percentile of |gradient|
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.mobilenet_v2 = ml_collections.ConfigDict({
      "weights": "",  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
      "images": "",  # folder; default: $JAXVIZ_DATA_DIR/sample_images_imagenet
      "files": ("parrot.jpg", "cat.bmp", "grace_hopper.bmp"),  # () = all
      "max_images": 0,  # 0 = all of files
      "layers": ("expanded_conv_1/expand", "expanded_conv_5", "expanded_conv_12", "Conv_1"),
      "top_k": 6,
  })
  config.small_cnn = ml_collections.ConfigDict({
      "num_images": 3,  # first test image of each of the first classes
      "layers": ("conv1", "conv2"),
      "top_k": 6,
  })
  return common.with_variant(config, arg, {
      "smoke": {"models": ("small_cnn",), "cnn_workdir": "",
                "cnn_train": train.get_config("smoke"), "small_cnn.num_images": 2, "small_cnn.top_k": 3,
                "mobilenet_v2.files": ("parrot.jpg",),
                "mobilenet_v2.layers": ("expanded_conv_1/expand", "Conv_1"),
                "mobilenet_v2.top_k": 2},
  })
