"""Small CNN on Fashion-MNIST: >= 0.90 test accuracy in < 3 CPU minutes.

Variants: ``configs/train.py:linear`` (linear softmax classifier, the class
templates of ``experiments.weights``), ``configs/train.py:smoke`` (seconds: a
tiny CNN on scikit-learn's bundled 8x8 digits, no asset needed; the other
experiments' smoke variants train it).
"""

import ml_collections

from configs import common


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = "small_cnn"  # or "linear"
  config.dataset = "fashion_mnist"
  config.data_dir = ""  # default: $JAXVIZ_DATA_DIR, /usr/share/datasets/fashion-mnist
  config.channels = (16, 32)
  config.hidden = 128
  config.batch_size = 128
  config.epochs = 3
  config.learning_rate = 3e-3
  config.seed = 0
  config.checkpoint_every_steps = 200
  config.max_train_examples = 0  # 0 = all
  config.max_test_examples = 0
  return common.with_variant(config, arg, {
      "linear": {"model": "linear", "epochs": 5, "learning_rate": 5e-3},
      "smoke": {"dataset": "digits", "channels": (4, 8), "hidden": 32, "epochs": 3,
                "batch_size": 64, "learning_rate": 1e-2, "max_train_examples": 512},
  })
