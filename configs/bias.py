"""Detecting bias: a spurious corner mark on one Fashion-MNIST class, seen by saliency.

python -m experiments.bias --config=configs/bias.py --workdir=/tmp/jaxviz_bias

Trains the small CNN of ``configs/train.py`` twice, on the same images with
the same seed: once with a bright corner patch on ``fraction`` of the
``target_class`` training images (``<workdir>/biased``) and once on the clean
images (``<workdir>/clean``); trained models there are reused. The target
class defaults to Shirt, which is hard to tell from T-shirt, Pullover and Coat
by shape, so the mark is the easier cue. ``configs/bias.py:smoke`` is a
seconds-long variant (scikit-learn digits) for tests.
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.train = train.get_config()  # the small CNN, Fashion-MNIST, its hyperparameters
  config.train.epochs = 2  # two models in about 3 CPU minutes; the effect is already clear
  config.target_class = 6  # Fashion-MNIST 6 = Shirt
  config.fraction = 0.95  # share of the target class's training images that get the mark
  config.mark_size = 4  # side of the square patch, pixels
  config.mark_corner = "top_left"  # top_left | top_right | bottom_left | bottom_right
  config.mark_value = 255  # patch intensity (uint8)
  config.seed = 0  # which training images are marked
  config.num_examples = 8  # example images in the saliency figure
  smoke_train = train.get_config("smoke")  # 8x8, bundled with scikit-learn: no asset
  smoke_train.epochs = 4
  smoke_train.max_train_examples = 2048
  smoke_train.max_test_examples = 512
  smoke_train.checkpoint_every_steps = 100
  return common.with_variant(config, arg, {
      "smoke": {"train": smoke_train, "target_class": 8, "fraction": 1.0, "mark_size": 2,
                "num_examples": 3},
  })
