"""Small CNN on Fashion-MNIST: >= 0.90 test accuracy in < 3 CPU minutes.

Variants: ``configs/train.py:linear`` (linear softmax classifier, the class
templates of ``experiments.weights``), ``configs/train.py:smoke`` (seconds),
``configs/train.py:digits`` (a tiny CNN on scikit-learn's bundled 8x8 digits:
no asset needed; the other experiments' smoke variants train it).
"""

import ml_collections


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
  if arg == "linear":
    config.model = "linear"
    config.epochs = 5
    config.learning_rate = 5e-3
  elif arg == "smoke":
    config.channels = (8, 16)
    config.hidden = 32
    config.epochs = 1
    config.max_train_examples = 2048
    config.max_test_examples = 512
  elif arg == "digits":
    config.dataset = "digits"
    config.channels = (4, 8)
    config.hidden = 32
    config.epochs = 3
    config.batch_size = 64
    config.learning_rate = 1e-2
    config.max_train_examples = 512
  elif arg:
    raise ValueError(f"Unknown variant {arg!r}; expected '', 'linear', 'smoke' or 'digits'.")
  return config
