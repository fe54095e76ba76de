"""Top-5 predictions of an ImageNet model on a folder of images (+ figure)."""

from __future__ import annotations

import functools
import logging
import pathlib

import jax
import numpy as np

from jaxviz import assets
from jaxviz import data
from jaxviz import plotting
from jaxviz import validation
from jaxviz import workdir as wd
from jaxviz.models import registry

LOG = logging.getLogger(__name__)
DEFAULT_IMAGES = "sample_images_imagenet"


def load_inputs(config):
  """Returns (names, uint8 images list) from the folder and skimage samples."""
  folder = assets.find_asset(DEFAULT_IMAGES, config.images or None)
  images, names = data.load_image_folder(folder)
  for sample in config.skimage_samples:
    images.append(data.skimage_image(sample))
    names.append(f"skimage:{sample}")
  return names, images


@functools.partial(jax.jit, static_argnames=("model",))
def _probabilities(model, params, x):
  return jax.nn.softmax(model.apply({"params": params}, x), axis=-1)


def top_k(probs: np.ndarray, meta, k: int = 5) -> list[list[dict]]:
  """Per image, the k most probable dataset classes (background excluded)."""
  class_probs = probs[:, meta.label_offset:meta.label_offset + meta.num_classes]
  order = np.argsort(-class_probs, axis=-1)[:, :k]
  return [[{"index": int(c), "name": meta.class_names[c], "prob": float(p[c])} for c in row]
          for row, p in zip(order, class_probs)]


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``predictions.json``, ``predictions.npz`` and ``predictions.png``."""
  model, params, meta = registry.load_model(config.model, source=config.weights_source,
                                            path=config.weights or None)
  names, images = load_inputs(config)
  x = data.prepare_for_model(images, meta)
  validation.check_model_input(x, meta)
  probs = np.asarray(_probabilities(model, params, x))
  top5 = top_k(probs, meta)
  records = [{"file": n, "top5": t} for n, t in zip(names, top5)]
  wd.write_json(workdir / "predictions.json", records)
  wd.write_npz(workdir / "predictions.npz", probabilities=probs, inputs=x,
               files=np.asarray(names))
  fig = plotting.prediction_grid(meta.deprocess(x), names, top5,
                                 title=f"{config.model}: top-5 predictions")
  wd.write_figure(workdir / "predictions.png", fig)
  for r in records:
    LOG.info("%s -> %s (%.2f)", r["file"], r["top5"][0]["name"], r["top5"][0]["prob"])
  return {"num_images": len(records), "model": config.model,
          "top1": {r["file"]: r["top5"][0]["name"] for r in records}}
