"""ImageNet top-5 predictions on a folder of photos.

python -m experiments.predict --config=configs/predict.py --workdir=W \
    --config.model=mobilenet_v2 --config.images=DIR
"""

import ml_collections

from configs import common


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = "mobilenet_v2"  # mobilenet_v2 | mobilenet_v1 | vgg16 | vgg19
  config.weights = ""  # explicit weight file; default: found under $JAXVIZ_DATA_DIR
  config.weights_source = "npz"  # MobileNet: npz | tflite
  config.images = ""  # default: $JAXVIZ_DATA_DIR/sample_images_imagenet
  config.skimage_samples = ("chelsea",)  # scikit-image photos added to the folder's images
  return common.with_variant(config, arg, {})  # No variants: it needs ImageNet weights.
