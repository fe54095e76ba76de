"""Saliency methods side by side for MobileNetV2 (sample photos) and the small CNN.

python -m experiments.saliency --config=configs/saliency.py --workdir=/tmp/jaxviz_saliency

The small CNN is trained on demand (``configs/train.py``) into
``cnn_workdir`` when that holds no trained model. MobileNetV2 is skipped
(logged, and named under ``skipped`` in summary.json) when its weights are not
found. ``:smoke`` is a seconds-long variant for tests: the small CNN trained
on scikit-learn's 8x8 digits, MobileNetV2 on one photo with tiny settings.
"""

import ml_collections

from configs import common
from configs import train

METHODS = ("gradient", "smoothgrad", "deconvnet", "guided_backprop", "grad_cam",
           "guided_grad_cam", "integrated_gradients", "occlusion")


def _model(**fields) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(fields)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.models = ("mobilenet_v2", "small_cnn")
  config.methods = METHODS
  config.seed = 0  # SmoothGrad noise
  # Channel reduction: max_abs | max_abs_signed | sum_abs | signed | l2.
  config.reduction = "max_abs"
  config.percentile = 99.0  # display scaling: 1 = this percentile of each map
  config.cmap = "inferno"
  config.alpha = 0.65  # heatmap opacity over the dimmed grayscale image
  config.cnn_workdir = "~/.cache/jaxviz/cnn_fashion_mnist"  # "" = <workdir>/cnn
  config.cnn_train = train.get_config()
  config.mobilenet_v2 = _model(
      weights="",  # explicit .npz; default: found under $JAXVIZ_DATA_DIR
      images="",  # folder; default: $JAXVIZ_DATA_DIR/sample_images_imagenet
      files=(),  # file names to use from the folder; () = all
      max_images=0,  # 0 = all
      gradcam_layer="Conv_1",  # last conv, 7x7
      smoothgrad_samples=25,
      smoothgrad_noise=0.15,
      smoothgrad_chunk=5,  # samples per vmapped chunk (bounds memory)
      ig_steps=32,
      ig_chunk=4,
      ig_baseline_pixel=0.0,  # IG baseline: a constant image of this pixel value (0 = black)
      occlusion_patch=32,
      occlusion_stride=16,
      occlusion_fill_pixel=127.5,  # occluder: a mid-gray patch
      occlusion_batch=64,
  )
  config.small_cnn = _model(
      num_images=6,  # first test image of each of the first classes
      gradcam_layer="conv2",
      smoothgrad_samples=50,
      smoothgrad_noise=0.15,
      smoothgrad_chunk=25,
      ig_steps=64,
      ig_chunk=32,
      ig_baseline_pixel=0.0,
      occlusion_patch=6,
      occlusion_stride=2,
      occlusion_fill_pixel=0.0,  # occluder: black, the Fashion-MNIST background
      occlusion_batch=256,
  )
  return common.with_variant(config, arg, {
      "smoke": {
          "cnn_workdir": "", "cnn_train": train.get_config("smoke"),
          "small_cnn.num_images": 2, "small_cnn.smoothgrad_samples": 4,
          "small_cnn.smoothgrad_chunk": 2, "small_cnn.ig_steps": 4, "small_cnn.ig_chunk": 2,
          "small_cnn.occlusion_patch": 3, "small_cnn.occlusion_stride": 2,
          "mobilenet_v2.max_images": 1, "mobilenet_v2.files": ("parrot.jpg",),
          "mobilenet_v2.smoothgrad_samples": 2, "mobilenet_v2.smoothgrad_chunk": 2,
          "mobilenet_v2.ig_steps": 2, "mobilenet_v2.ig_chunk": 2,
          "mobilenet_v2.occlusion_patch": 112, "mobilenet_v2.occlusion_stride": 112,
      },
  })
