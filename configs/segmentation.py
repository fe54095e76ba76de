"""Saliency -> GrabCut object masks (Simonyan et al. 2013, Sec. 3.1).

python -m experiments.segmentation --config=configs/segmentation.py --workdir=/tmp/segmentation

Needs OpenCV: ``pip install -e .[segment]``. Default: MobileNetV2 on the
sample photos of ``$JAXVIZ_DATA_DIR/sample_images_imagenet``. ``:smoke`` is a
seconds-long variant for tests that needs no asset: the small CNN
(``configs/train.py:smoke``, scikit-learn's 8x8 digits, trained into
``<workdir>/cnn``) on two digits test images.
"""

import ml_collections

from configs import common
from configs import train


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.model = "mobilenet_v2"  # mobilenet_v2 | mobilenet_v1 | vgg16 | vgg19 | small_cnn
  config.weights = ""  # explicit weight file; default: found under $JAXVIZ_DATA_DIR
  config.images = ""  # photo folder; default: $JAXVIZ_DATA_DIR/sample_images_imagenet
  config.files = ()  # photo file names to use; () = every photo of the folder
  config.max_images = 0  # 0 = all photos (small_cnn: number of test images, >= 1)
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # small_cnn; "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  # Saliency: max over channels of |gradient| of the top-1 logit; with
  # smoothgrad_samples > 0 the gradient is first averaged over that many noisy
  # copies (SmoothGrad, noise std = noise_level * the image's value range).
  config.smoothgrad_samples = 16
  config.noise_level = 0.15
  config.chunk_size = 4  # noisy copies evaluated at once (bounds memory)
  config.seed = 0  # SmoothGrad noise and OpenCV's RNG (GrabCut's colour-model init)
  # GrabCut seeds (the paper's values): foreground >= 95% quantile, background < 30%.
  config.fg_quantile = 0.95
  config.bg_quantile = 0.30
  config.grabcut_iterations = 5
  return common.with_variant(config, arg, {
      "smoke": {"model": "small_cnn", "cnn_workdir": "", "cnn_train": train.get_config("smoke"),
                "max_images": 2, "smoothgrad_samples": 4},
  })
