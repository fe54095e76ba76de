"""Adversarial examples and robustness curves: MobileNetV2, the small CNN, an MNIST softmax.

python -m experiments.adversarial --config=configs/adversarial.py --workdir=/tmp/jaxviz_adversarial

Epsilons are in pixel units ([0, 1] per channel; ``*_255`` fields in 1/255
steps). ``:smoke`` runs in seconds without any asset: the small CNN and the
softmax classifier on scikit-learn's 8x8 digits, MobileNetV2 left out.
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("mobilenet_v2", "small_cnn", "mnist_softmax")
  config.seed = 0
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  # The sanity checklist's transfer source for the small CNN: a linear softmax
  # classifier on the same data (trained on demand).
  config.transfer_workdir = "~/.cache/jaxviz/linear_fashion_mnist"  # "" = <workdir>/linear
  config.transfer_train = train.get_config("linear")
  config.mobilenet_v2 = ml_collections.ConfigDict(dict(
      weights="", images="", files=(), max_images=0,  # "" / () / 0: the shared defaults
      epsilons_255=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
      pgd_steps=10,
      figure_epsilon_255=1.0,  # the PGD budget of the clean / perturbation / adversarial figure
      figure_images=3,
      transfer_model="mobilenet_v1",  # the checklist's transfer source ("" = none)
      checklist_epsilon_255=0.25,  # where accuracy is still above 0 (not a degenerate check)
      checklist_steps=(5, 20),
      checklist_restarts=(1, 2),
      checklist_sweep_255=(0.25, 2.0, 16.0, 255.0),  # towards the box (255/255)
  ))
  config.small_cnn = ml_collections.ConfigDict(dict(
      num_images=1000,  # test images attacked (the first ones)
      epsilons=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3),
      pgd_steps=20,
      batch_size=500,  # also the images of the figure's attack and of the checklist
      figure_epsilon=0.1,
      figure_images=3,
      checklist_epsilon=0.1,
      checklist_steps=(10, 40),
      checklist_restarts=(1, 4),
  ))
  config.mnist_softmax = ml_collections.ConfigDict(dict(
      dataset="mnist",  # the shared MNIST test set (mnist_t10k)
      data_dir="",
      train_examples=8000,  # trained on the first 8000, evaluated on the rest (2000)
      epochs=10,
      learning_rate=5e-3,
      train_batch_size=128,
      batch_size=2000,  # attacked at once (the figure's attack and the checklist too)
      workdir="",  # "" = <workdir>/mnist_softmax
      epsilons=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3),
      pgd_steps=10,
      figure_epsilon=0.25,
      figure_images=3,
      checklist_epsilon=0.1,
      checklist_steps=(10, 40),
      checklist_restarts=(1, 4),
  ))
  smoke_linear = train.get_config("smoke")
  smoke_linear.model = "linear"
  return common.with_variant(config, arg, {
      "smoke": {
          "models": ("small_cnn", "mnist_softmax"),
          "cnn_workdir": "", "cnn_train": train.get_config("smoke"),
          "transfer_workdir": "", "transfer_train": smoke_linear,
          "small_cnn.num_images": 32, "small_cnn.epsilons": (0.05, 0.2),
          "small_cnn.pgd_steps": 3, "small_cnn.batch_size": 32, "small_cnn.figure_images": 2,
          "small_cnn.checklist_steps": (2, 4),
          "small_cnn.checklist_restarts": (1, 2),
          "mnist_softmax.dataset": "digits", "mnist_softmax.train_examples": 600,
          "mnist_softmax.epochs": 2, "mnist_softmax.learning_rate": 2e-2,
          "mnist_softmax.epsilons": (0.1, 0.25), "mnist_softmax.figure_images": 2,
          "mnist_softmax.batch_size": 299, "mnist_softmax.checklist_steps": (2, 4),
          "mnist_softmax.checklist_restarts": (1, 2),
      },
  })
