"""PCA and t-SNE of raw pixels vs. the trained small CNN's penultimate layer.

python -m experiments.embedding --config=configs/embedding.py --workdir=/tmp/embedding

Reports the 5-nearest-neighbour class agreement in each raw space and its
t-SNE (summary key ``knn5_agreement``). The small CNN is trained on demand
(``configs/train.py``) into ``cnn_workdir``. ``:smoke`` is a seconds-long
variant for tests.
"""

import ml_collections

from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.layer = "fc1"  # penultimate layer of the small CNN
  config.num_images = 2000  # random test images (seeded)
  config.batch_size = 500
  config.perplexity = 30.0
  config.tsne_max_iter = 1000
  config.tsne_threads = 0  # OpenMP threads of the t-SNE gradient; 0 = scikit-learn's default
  config.knn_k = 5
  config.mosaic_grid = 40  # thumbnail cells per side
  config.seed = 0
  if arg == "smoke":
    config.cnn_workdir = ""
    config.cnn_train = train.get_config("smoke")
    config.num_images = 150
    config.batch_size = 64
    config.perplexity = 10.0
    config.tsne_max_iter = 500
    config.tsne_threads = 1
    config.mosaic_grid = 12
  elif arg:
    raise ValueError(f"Unknown variant {arg!r}; expected '' or 'smoke'.")
  return config
