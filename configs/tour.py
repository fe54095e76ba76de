"""The whole lecture in one command (experiments.tour): each section's config.

python -m experiments.tour --config=configs/tour.py --workdir=/tmp/jaxviz_tour

Each section is the experiment's own config, made smaller so that the whole
tour runs in about 11 minutes on a 2-core CPU with the assets fetched; any
field can be changed from the command line, e.g.
``--config.saliency.mobilenet_v2.max_images=9``. The sections share the small
CNN of ``train``. ``:smoke`` runs every section's ``:smoke`` variant (scikit-
learn digits, no asset; about 2 minutes) for tests.
"""

import importlib

import ml_collections

from configs import common

# The lecture's order.
SECTIONS = ("train", "weights", "activations", "embedding", "saliency", "neuron", "segmentation",
            "bias", "sanity", "class_model", "feature_vis", "adversarial", "shape_bias",
            "style_transfer")

# Fields overridden in each section's full config: small but honest.
_SMALLER = {
    "train": {"epochs": 2},
    "weights": {"linear_workdir": "", "linear_train.epochs": 3},
    "activations": {"max_images": 5000, "top_channels": (0, 1, 2, 3, 4, 5)},
    "embedding": {"num_images": 1000, "tsne_max_iter": 750},
    "saliency": {"mobilenet_v2.files": ("parrot.jpg", "cat.bmp", "grace_hopper.bmp"),
                 "mobilenet_v2.smoothgrad_samples": 12, "mobilenet_v2.ig_steps": 16,
                 "small_cnn.num_images": 4},
    "neuron": {"mobilenet_v2.files": ("parrot.jpg",), "mobilenet_v2.top_k": 4,
               "small_cnn.num_images": 2},
    "segmentation": {"files": ("parrot.jpg", "cat.bmp", "dragonfly.bmp", "hot_dog.jpg"),
                     "smoothgrad_samples": 8},
    "bias": {"train.epochs": 1},
    "sanity": {"models": ("mobilenet_v2", "small_cnn"), "num_figures": 1,
               "mobilenet_v2.files": ("parrot.jpg",),
               "mobilenet_v2.layers": ("Logits", "Conv_1", "expanded_conv_12", "expanded_conv_6",
                                       "Conv"),
               "small_cnn.num_images": 8},
    "class_model": {"transfer_model": "mobilenet_v1",
                    "mobilenet_v2.classes": ("goose", "ostrich", "dumbbell", "cup", "bell pepper"),
                    "mobilenet_v2.presets": ("simonyan", "robust_class"),
                    "mobilenet_v2.steps": 256,
                    "small_cnn.presets": ("simonyan", "lucid_fixed_size")},
    "feature_vis": {"steps": 256,
                    "mobilenet_v2.layers": ("expanded_conv_2", "expanded_conv_8",
                                            "expanded_conv_15"),
                    "mobilenet_v2.channels": (0,),
                    "mobilenet_v2.redirect_layers": ("expanded_conv_5/expand",),
                    "mobilenet_v2.redirect_channels": 2},
    "adversarial": {"transfer_workdir": "",
                    "mobilenet_v2.files": ("bird.bmp", "cat.bmp", "dragonfly.bmp",
                                           "parrot.jpg"),
                    "mobilenet_v2.epsilons_255": (0.25, 1.0, 4.0),
                    "small_cnn.num_images": 200, "small_cnn.batch_size": 200,
                    "small_cnn.epsilons": (0.02, 0.05, 0.1, 0.2),
                    "mnist_softmax.epochs": 5},
    "style_transfer": {"image_size": 160, "iterations": 150,
                       "sweep.styles": ("starry_night.jpg",),
                       "sweep.content_weights": (0.1, 1.0, 10.0), "sweep.iterations": 60,
                       "remedies.names": ("mobilenet_v2_blocks", "mobilenet_v2"),
                       "remedies.iterations": 60},
}

# Fields overridden in each section's :smoke config (keep the smoke tour asset-free and short).
_SMALLER_SMOKE = {"saliency": {"models": ("small_cnn",)}}

# Seconds each section takes on the 2-core CI machine (for the tour's ETA).
_EXPECTED = {"train": 25, "weights": 15, "activations": 25, "embedding": 10, "saliency": 50,
             "neuron": 25, "segmentation": 15, "bias": 30, "sanity": 45, "class_model": 90,
             "feature_vis": 135, "adversarial": 75, "shape_bias": 10, "style_transfer": 130}
_EXPECTED_SMOKE = {name: 8 for name in SECTIONS}


def _section(name: str, variant: str) -> ml_collections.ConfigDict:
  section = importlib.import_module(f"configs.{name}").get_config(variant)
  smaller = _SMALLER_SMOKE if variant else _SMALLER
  return common.with_variant(section, "tour", {"tour": smaller.get(name, {})})


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  if arg not in ("", "smoke"):
    raise ValueError(f"Unknown variant {arg!r}; expected '' or one of ['smoke'].")
  config = ml_collections.ConfigDict()
  config.title = "jaxviz: visualizing and probing neural networks, the lecture end to end"
  config.sections = SECTIONS
  for name in SECTIONS:
    config[name] = _section(name, arg)
  config.expected_seconds = dict(_EXPECTED_SMOKE if arg else _EXPECTED)
  return config
