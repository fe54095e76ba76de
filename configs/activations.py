"""Feature maps (small CNN, MobileNetV2) and top-activating Fashion-MNIST inputs.

python -m experiments.activations --config=configs/activations.py --workdir=/tmp/activations

The small CNN is trained on demand (``configs/train.py``) into
``cnn_workdir`` when that holds no trained model. ``:smoke`` is a
seconds-long variant for tests.
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.image_index = 0  # test image whose feature maps are drawn
  config.cnn_layers = ("conv1", "conv2", "fc1")  # fc1 (dense) is drawn as a stem plot
  config.num_channels = 32  # feature-map panels per layer: the most active channels
  config.top_layers = ("conv1", "conv2")
  config.top_channels = (0, 1, 2, 3, 4, 5, 6, 7)
  config.top_k = 8
  config.max_images = 0  # test images searched; 0 = all (10k for Fashion-MNIST)
  config.batch_size = 500
  config.seed = 0  # receptive-field probes
  config.mobilenet = True  # skipped (logged) when the weights or the photo are absent
  config.mobilenet_weights = ""  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
  config.photo = "sample_images_imagenet/parrot.jpg"  # asset path or explicit file
  config.mobilenet_layers = ("Conv", "expanded_conv_6/expand")  # shallow, deeper
  config.mobilenet_channels = 16
  return common.with_variant(config, arg, {
      # conv2's 8x8 receptive field covers a whole 8x8 digit: only conv1 is searched.
      "smoke": {"cnn_workdir": "", "cnn_train": train.get_config("smoke"), "num_channels": 4,
                "top_layers": ("conv1",), "top_channels": (0, 1, 2), "top_k": 3,
                "max_images": 256, "batch_size": 100, "mobilenet": False},
  })
