"""Cascading model randomization of attribution methods (Adebayo et al. 2018).

python -m experiments.sanity --config=configs/sanity.py --workdir=/tmp/sanity

Models: the small CNN on Fashion-MNIST (primary; trained on demand with
``configs/train.py`` into ``cnn_workdir``) and MobileNetV2 on two sample
photos (cat, parrot). Each model has its settings under ``config.<model
name>``; its ``layers`` are the cascade's checkpoints from the top down (every
layer above a checkpoint is randomized too). ``:smoke`` is a seconds-long variant for
tests that needs no asset (small CNN on scikit-learn's digits).
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("small_cnn", "mobilenet_v2")  # the first one is reported as rank_correlation
  config.methods = ("gradient", "guided_backprop", "grad_cam", "integrated_gradients",
                    "smoothgrad")
  config.seed = 0  # randomized weights and SmoothGrad noise
  config.noise_level = 0.15  # SmoothGrad noise std / the image's value range
  config.chunk_size = 4  # IG path points / SmoothGrad samples evaluated at once
  config.num_figures = 2  # figures per model (images 0, 1, ...)
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.small_cnn = ml_collections.ConfigDict({
      "layers": ("logits", "fc1", "conv2", "conv1"),
      "cam_layer": "conv2",
      "num_images": 16,  # first test images
      "ig_steps": 32,  # integrated gradients from a black image
      "smoothgrad_samples": 32,
  })
  config.mobilenet_v2 = ml_collections.ConfigDict({
      "layers": ("Logits", "Conv_1", "expanded_conv_16", "expanded_conv_12", "expanded_conv_6",
                 "expanded_conv_1", "Conv"),
      "cam_layer": "Conv_1",  # last conv layer, 7x7
      "weights": "",  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
      "images": "",  # photo folder; default: $JAXVIZ_DATA_DIR/sample_images_imagenet
      "files": ("cat.bmp", "parrot.jpg"),
      "max_images": 0,  # 0 = all of files
      "ig_steps": 8,
      "smoothgrad_samples": 8,
  })
  return common.with_variant(config, arg, {
      "smoke": {"models": ("small_cnn",), "num_figures": 1, "cnn_workdir": "",
                "cnn_train": train.get_config("smoke"), "small_cnn.num_images": 2,
                "small_cnn.ig_steps": 4, "small_cnn.smoothgrad_samples": 4},
  })
