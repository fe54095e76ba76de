"""Top-5 predictions of an ImageNet model on a folder of photos (+ figure).

python -m experiments.predict --config=configs/predict.py --workdir=W \
    --config.model=mobilenet_v2 --config.images=DIR
"""

from __future__ import annotations

import logging
import pathlib

import jax
import numpy as np

from experiments import common
from experiments import inputs
from jaxviz import data
from jaxviz import plotting
from jaxviz import validation
from jaxviz import workdir as wd
from jaxviz.models import registry

LOG = logging.getLogger(__name__)


def load_images(config) -> tuple[list[str], list[np.ndarray]]:
  """``(names, uint8 images)`` of the photo folder plus the scikit-image samples."""
  images, names = inputs.load_photos(config.images)
  for sample in config.skimage_samples:
    images.append(data.skimage_image(sample))
    names.append(f"skimage:{sample}")
  return names, images


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
  names, images = load_images(config)
  x = data.prepare_for_model(images, meta)
  validation.check_model_input(x, meta)
  probs = np.asarray(jax.nn.softmax(inputs.logits(model, params, x), axis=-1))
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


if __name__ == "__main__":
  common.main(run)
