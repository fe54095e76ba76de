"""What the weights look like: small-CNN filters, linear class templates, MobileNetV2 filters.

python -m experiments.weights --config=configs/weights.py --workdir=/tmp/weights

The small CNN and the linear softmax classifier are trained on demand (with
``configs/train.py`` and ``configs/train.py:linear``) into their workdirs
when those hold no trained model. ``configs/weights.py:smoke`` is a
seconds-long variant for tests (tiny models trained inside the run's
workdir, no MobileNet).
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.linear_workdir = "~/.cache/jaxviz/linear_fashion_mnist"  # "" = <workdir>/linear
  config.linear_train = train.get_config("linear")
  config.max_filters = 16  # conv2 output filters drawn per input channel
  config.mobilenet = True  # MobileNetV2 first-layer filters (skipped when weights are absent)
  config.mobilenet_weights = ""  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
  smoke_linear = train.get_config("smoke")
  smoke_linear.model = "linear"
  return common.with_variant(config, arg, {
      "smoke": {"cnn_workdir": "", "cnn_train": train.get_config("smoke"),
                "linear_workdir": "", "linear_train": smoke_linear, "max_filters": 4,
                "mobilenet": False},
  })
