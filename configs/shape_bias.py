"""Shape vs texture bias (Geirhos et al. 2019) of the ImageNet models on cue-conflict images.

python -m experiments.shape_bias --config=configs/shape_bias.py --workdir=/tmp/jaxviz_shape_bias \
    [--config.stimuli=DIR]

``stimuli`` is any folder in the authors' layout (one folder per shape
category, files ``<shape><i>-<texture><j>.png``); "" is the shared 160-image
subset (``texture_vs_shape_subset/cue-conflict``; the full 1,280 images are in
github.com/rgeirhos/texture-vs-shape under
``stimuli/style-transfer-preprocessed-512``). ``:smoke`` needs no asset: it
generates a small folder in that layout, a stand-in 16-class index map and a
randomly initialised MobileNetV1 0.25 at 32x32.
"""

import ml_collections

from configs import common


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("mobilenet_v2", "mobilenet_v1")
  config.stimuli = ""  # "" = the shared texture_vs_shape_subset/cue-conflict
  config.indices = ""  # "" = the shared geirhos16_imagenet_indices.json
  config.batch_size = 16
  config.random_weights = False  # smoke: random MobileNetV1 0.25 weights, no asset
  config.random_input_size = 32
  config.generate_stimuli = 0  # > 0: generate this many images per category into the workdir
  return common.with_variant(config, arg, {
      "smoke": {"models": ("mobilenet_v1",), "random_weights": True, "generate_stimuli": 2,
                "batch_size": 8},
  })
