"""PCA and t-SNE of raw pixels vs. the trained small CNN's penultimate layer.

python -m experiments.embedding --config=configs/embedding.py --workdir=/tmp/embedding

Reports the 5-nearest-neighbour class agreement in each raw space and its
t-SNE (summary key ``knn5_agreement``). The small CNN is trained on demand
(``configs/train.py``) into ``cnn_workdir``. ``:smoke`` is a seconds-long
variant for tests.
"""

import ml_collections

from configs import common
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
  return common.with_variant(config, arg, {
      "smoke": {"cnn_workdir": "", "cnn_train": train.get_config("smoke"), "num_images": 150,
                "batch_size": 64, "perplexity": 10.0, "tsne_max_iter": 500, "tsne_threads": 1,
                "mosaic_grid": 12},
  })
