"""PGD adversarial training (Madry et al. 2018) of the small CNN on Fashion-MNIST, epsilon 0.1.

python -m experiments.adversarial_training --config=configs/adversarial_training.py \
    --workdir=/tmp/jaxviz_adversarial_training

The standard model is the one of ``experiments.train`` (shared cache); the
adversarially trained one is trained with the same architecture, data and
schedule, each batch replaced by its PGD adversarial examples (``pgd_steps``
steps from a random start). ``:smoke`` runs in seconds on scikit-learn's
8x8 digits (no asset).
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.epsilon = 0.1  # L-inf, pixels in [0, 1]
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # standard model ("" = <workdir>/cnn)
  config.cnn_train = train.get_config()
  config.adversarial_workdir = "~/.cache/jaxviz/cnn_fashion_mnist_pgd"  # "" = <workdir>/adversarial
  config.adversarial_epochs = 5
  config.adversarial_pgd_steps = 7  # step size 2.5 * epsilon / steps
  config.test_images = 0  # clean, FGSM and PGD-20 on the first test images (0 = all 10,000)
  config.pgd20_steps = 20
  config.strong_images = 500  # PGD-100 with 10 restarts on the first test images
  config.strong_steps = 100
  config.strong_restarts = 10
  config.batch_size = 500  # images per attack call
  config.curve_epsilons = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3)  # PGD-20 accuracy curves
  config.saliency_images = 6  # one test image per class, first classes
  return common.with_variant(config, arg, {
      "smoke": {"cnn_workdir": "", "cnn_train": train.get_config("smoke"),
                "adversarial_workdir": "", "adversarial_epochs": 2,
                "adversarial_pgd_steps": 2, "test_images": 64, "pgd20_steps": 4,
                "strong_images": 32, "strong_steps": 6, "strong_restarts": 2, "batch_size": 32,
                "curve_epsilons": (0.1, 0.3), "saliency_images": 3},
  })
