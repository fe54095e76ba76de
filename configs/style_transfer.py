"""Neural style transfer on MobileNetV2: four paintings, a weight sweep, the remedies.

python -m experiments.style_transfer --config=configs/style_transfer.py --workdir=/tmp/jaxviz_style

The Tuebingen photo and the four paintings come from the shared
``style_images`` asset (or ``images``, a folder holding them). ``preset``
names the :mod:`jaxviz.style` settings; ``content_layers``/``style_layers``
((name, weight) pairs), ``iterations`` and ``optimizer`` override them when
set. With VGG19
weights (``model = "vgg19"``, ``preset = "gatys_vgg19"``, ``remedies.names =
()``) it runs Gatys' settings. ``:smoke`` runs in seconds with no asset: a tiny
random CNN (model and judge) on 32x32 scikit-image photos.
"""

import ml_collections

from configs import common


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = "mobilenet_v2"  # mobilenet_v2 | vgg19 | random_cnn
  config.weights = ""  # explicit weight file; default: found under $JAXVIZ_DATA_DIR
  config.judge = "mobilenet_v1"  # held-out network: mobilenet_v1 (0.25, 128 px) | random_cnn
  config.source = "files"  # files (the style_images asset or `images`) | skimage
  config.images = ""  # folder with the content and style files; "" = the shared asset
  config.content = "tubingen.jpg"
  config.styles = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg",
                   "woman-with-hat-matisse.jpg")
  config.image_size = 256  # the content's longer side in px (Tuebingen: 192 x 256)
  config.preset = "mobilenet_v2"
  config.content_layers = ()  # ((name, weight), ...); () = the preset's
  config.style_layers = ()
  config.iterations = 0  # 0 = the preset's
  config.optimizer = ""  # lbfgs | adam; "" = the preset's
  config.seed = 0
  config.sweep = ml_collections.ConfigDict({
      "styles": ("starry_night.jpg", "the_scream.jpg"),
      "content_weights": (0.01, 0.1, 1.0, 10.0, 100.0),
      "iterations": 150,
  })
  config.remedies = ml_collections.ConfigDict({
      # "<preset or main>[+swag][+fourier][+adam]", one column each.
      "names": ("mobilenet_v2_blocks", "mobilenet_v2_blocks+swag", "mobilenet_v2",
                "mobilenet_v2+swag", "mobilenet_v2+fourier"),
      "iterations": 150,
  })
  return common.with_variant(config, arg, {
      "smoke": {
          "model": "random_cnn", "judge": "random_cnn", "source": "skimage",
          "content": "astronaut", "styles": ("coffee", "immunohistochemistry"),
          "image_size": 32, "content_layers": (("conv2", 1.0),),
          "style_layers": (("conv1", 1e3), ("conv2", 1e3)), "iterations": 4,
          "sweep.styles": ("coffee",), "sweep.content_weights": (0.01, 1e3),
          "sweep.iterations": 4,
          "remedies.names": ("main+swag+fourier+adam",),
          "remedies.iterations": 3,
      },
  })
