"""Shape vs texture bias on cue-conflict images (Geirhos et al. 2019).

Geirhos et al., "ImageNet-trained CNNs are biased towards texture; increasing
shape bias improves accuracy and robustness", ICLR 2019,
https://arxiv.org/abs/1811.12231 . Each model's 1000 ImageNet probabilities
(the MobileNets' background logit at index 0 dropped after the softmax) are
mapped to the 16 categories by the mean probability over each category's
ImageNet classes; images whose shape and texture categories coincide are
excluded; shape bias = shape decisions / (shape + texture decisions),
overall and per shape category (:mod:`jaxviz.robustness.shape_bias`).

python -m experiments.shape_bias --config=configs/shape_bias.py --workdir=/tmp/jaxviz_shape_bias \
    [--config.stimuli=DIR]

Writes ``shape_bias.png`` (the paper's Fig. 4 style, with ResNet-50's 0.214
and humans' ~0.96 marked) and ``shape_bias_<model>.npz`` (per image: path
index, shape, texture and decided category indices, 16-way probabilities).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import numpy as np
import PIL.Image

from experiments import common
from jaxviz import assets
from jaxviz import models
from jaxviz import workdir as wd
from jaxviz.models import meta as meta_lib
from jaxviz.models import mobilenet
from jaxviz.models import registry
from jaxviz import robustness
from jaxviz.plotting import robustness_plots

LOG = logging.getLogger(__name__)

SUBSET = "texture_vs_shape_subset"
STIMULI = SUBSET + "/cue-conflict"
INDICES = SUBSET + "/geirhos16_imagenet_indices.json"
MODEL_NAMES = {"mobilenet_v2": "MobileNetV2 1.0/224", "mobilenet_v1": "MobileNetV1 0.25/128"}


def generate_stimuli(directory: pathlib.Path, per_category: int, size: int, seed: int = 0
                     ) -> pathlib.Path:
  """A small folder in the authors' layout with random images (smoke runs and tests)."""
  rng = np.random.default_rng(seed)
  categories = robustness.CATEGORIES
  for c, shape in enumerate(categories[:4]):
    folder = directory / shape
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(per_category):
      texture = categories[(c + 1 + i) % len(categories)]
      pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
      PIL.Image.fromarray(pixels).save(folder / f"{shape}{i + 1}-{texture}{i + 1}.png")
  return directory


def stand_in_indices(directory: pathlib.Path) -> pathlib.Path:
  """A stand-in 16-class index map (smoke runs): category c owns ImageNet classes 50c .. 50c+2."""
  path = directory / "stand_in_indices.json"
  wd.write_json(path, {name: [50 * c, 50 * c + 1, 50 * c + 2]
                       for c, name in enumerate(robustness.CATEGORIES)})
  return path


def random_mobilenet(size: int):
  """MobileNetV1 0.25 with random weights and an ImageNet-like meta (smoke runs)."""
  model = mobilenet.MobileNetV1(width=0.25)
  params = models.random_params(model, (1, size, size, 3), seed=0)
  meta = meta_lib.ModelMeta(name="random_mobilenet_v1", input_shape=(size, size, 3),
                            mean=(0.5,) * 3, std=(0.5,) * 3,
                            class_names=tuple(f"class {i}" for i in range(1000)), label_offset=1)
  return model, params, meta


def run(config, workdir: pathlib.Path) -> dict[str, Any]:
  """Shape bias of each configured model on the stimuli folder.

  Metrics (of the first model, as the issue names them): ``shape_bias``,
  ``shape_decisions``, ``texture_decisions``, ``images_evaluated``,
  ``per_category`` ({category: {shape, texture, images, shape_bias}}); and
  ``models`` ({model: those metrics plus ``excluded``, ``shape_accuracy``,
  ``texture_accuracy``}), ``stimuli`` (the folder) and ``images`` (found).

  Raises:
    ValueError: a stimuli folder without recognisable files or with unknown
      class folders (before any model runs).
  """
  workdir = pathlib.Path(workdir)
  if config.generate_stimuli:
    stimuli_dir = generate_stimuli(workdir / "stimuli", config.generate_stimuli,
                                   config.random_input_size)
  else:
    stimuli_dir = assets.find_asset(STIMULI, config.stimuli or None)
  stimuli = robustness.find_stimuli(stimuli_dir)  # Bad folders fail here, before any model.
  indices = robustness.load_category_indices(
      stand_in_indices(workdir) if config.generate_stimuli
      else assets.find_asset(INDICES, config.indices or None))
  LOG.info("%d cue-conflict images in %s", len(stimuli.paths), stimuli_dir)
  results = {}
  shown = {}
  for name in config.models:
    if config.random_weights:
      model, params, meta = random_mobilenet(config.random_input_size)
    else:
      model, params, meta = registry.load_model(name)
    f = lambda x, model=model, params=params: model.apply({"params": params}, x)
    decisions, probabilities = robustness.model_decisions(f, meta, stimuli, indices,
                                                          batch_size=config.batch_size)
    counts = robustness.count_shape_bias(decisions, stimuli.shapes, stimuli.textures)
    category = {c: i for i, c in enumerate(robustness.CATEGORIES)}
    wd.write_npz(workdir / f"shape_bias_{name}.npz",
                 shape=np.array([category[s] for s in stimuli.shapes]),
                 texture=np.array([category[t] for t in stimuli.textures]),
                 decision=np.array([category[d] for d in decisions]),
                 probabilities=probabilities)
    results[name] = {
        "shape_bias": counts.shape_bias, "shape_decisions": counts.shape_decisions,
        "texture_decisions": counts.texture_decisions,
        "images_evaluated": counts.images_evaluated, "excluded": counts.excluded,
        "shape_accuracy": counts.shape_accuracy, "texture_accuracy": counts.texture_accuracy,
        "per_category": counts.per_category}
    LOG.info("%s: shape bias %s (%d shape, %d texture decisions of %d images)", name,
             counts.shape_bias, counts.shape_decisions, counts.texture_decisions,
             counts.images_evaluated)
    label = MODEL_NAMES.get(name, name) + (" (random weights)" if config.random_weights else "")
    shown[label] = ({c: v["shape_bias"] for c, v in counts.per_category.items()},
                    counts.shape_bias)
  wd.write_figure(workdir / "shape_bias.png", robustness_plots.shape_bias_figure(
      shown, references=robustness.REFERENCE_SHAPE_BIAS))
  first = results[config.models[0]]
  return {**{k: first[k] for k in ("shape_bias", "shape_decisions", "texture_decisions",
                                   "images_evaluated", "per_category")},
          "models": results, "stimuli": str(stimuli_dir), "images": len(stimuli.paths)}


if __name__ == "__main__":
  common.main(run)
