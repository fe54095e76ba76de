"""Class-model visualization of MobileNetV2 and the small Fashion-MNIST CNN.

python -m experiments.class_model --config=configs/class_model.py --workdir=/tmp/jaxviz_class_model

Rows of each figure are the presets (``jaxviz.synthesis.presets``), columns
the classes. MobileNetV2 is skipped (logged, named under ``skipped``) when its
weights are not found; MobileNetV1 0.25 (the transfer network) too. The small
CNN is trained on demand into ``cnn_workdir``. ``:smoke`` runs in seconds with
no asset: a tiny CNN trained on scikit-learn's 8x8 digits, all 10 digits,
8 steps per preset.
"""

import ml_collections

from configs import common
from configs import train

# The lecture's classes (Simonyan et al. 2013, figure 1), by their first ImageNet synonym.
IMAGENET_CLASSES = ("goose", "ostrich", "dumbbell", "cup", "bell pepper", "lemon", "dalmatian",
                    "kit fox", "washer", "computer keyboard", "limousine", "Siberian husky")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("mobilenet_v2", "small_cnn")
  config.seed = 0
  config.transfer_model = "mobilenet_v1"  # scores the MobileNetV2 images; "" = none
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.mobilenet_v2 = ml_collections.ConfigDict({
      "weights": "",  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
      "classes": IMAGENET_CLASSES,
      "presets": ("simonyan", "yosinski_1", "lucid_class", "robust_class"),  # figure rows
      "unregularized": "simonyan",
      "regularized": "robust_class",  # the default: target_probability is reported for it
      "steps": 0,  # 0 = each preset's own
  })
  config.small_cnn = ml_collections.ConfigDict({
      "classes": (),  # () = all 10
      "presets": ("simonyan", "yosinski_1", "lucid_fixed_size"),
      "unregularized": "simonyan",
      "regularized": "lucid_fixed_size",
      "steps": 0,
  })
  return common.with_variant(config, arg, {
      "smoke": {"models": ("small_cnn",), "cnn_workdir": "", "transfer_model": "",
                "cnn_train": train.get_config("smoke"), "small_cnn.steps": 8,
                "small_cnn.presets": ("simonyan", "lucid_fixed_size"),
                "mobilenet_v2.classes": ("goose", "cup"), "mobilenet_v2.steps": 4},
  })
