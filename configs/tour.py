"""The whole lecture in one command (experiments.tour): each section's config.

python -m experiments.tour --config=configs/tour.py --workdir=/tmp/jaxviz_tour

Each section is the experiment's own config, made smaller so that the whole
tour runs in about 15 minutes on a 2-core CPU with the assets fetched; any
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
            "bias", "sanity")

# Fields overridden in each section's full config: small but honest.
_SMALLER = {
    "train": {"epochs": 2},
    "weights": {"linear_train.epochs": 3},
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
}

# Fields overridden in each section's :smoke config (keep the smoke tour asset-free and short).
_SMALLER_SMOKE = {"saliency": {"models": ("small_cnn",)}}

# Seconds each section takes on the 2-core CI machine (for the tour's ETA).
_EXPECTED = {"train": 45, "weights": 30, "activations": 40, "embedding": 45, "saliency": 120,
             "neuron": 60, "segmentation": 60, "bias": 90, "sanity": 120}
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
