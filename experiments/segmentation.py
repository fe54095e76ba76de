"""Weakly supervised segmentation from saliency maps (Simonyan et al. 2013, Sec. 3.1).

https://arxiv.org/abs/1312.6034 . For each image, the saliency map of the
model's top-1 class (``max_c |d S / d x_c|``, optionally averaged with
SmoothGrad, https://arxiv.org/abs/1706.03825) seeds GrabCut (foreground from
the top saliency quantile, background from the bottom one), and the largest
connected component of GrabCut's foreground is the object mask.

There are no ground-truth masks for the sample photos, so the run reports,
per image, the mask's area fraction and the fraction of the saliency mass
that falls inside it (``saliency_mass_in_mask``). A mask that follows the
salient object has ``saliency_mass_in_mask`` well above its area fraction
(their ratio is ``saliency_concentration``; 1 means no better than a random
region of the same size).

python -m experiments.segmentation --config=configs/segmentation.py --workdir=/tmp/segmentation
"""

from __future__ import annotations

import logging
import pathlib

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import attribution
from jaxviz import workdir as wd
from jaxviz.attribution import segmentation
from jaxviz.plotting import attribution_extras

LOG = logging.getLogger(__name__)


def load_inputs(config, workdir: pathlib.Path) -> inputs_lib.ModelInputs:
  """``config.model`` with its images: ImageNet photos, or the small CNN's first test images.

  ``config.max_images`` = 0 keeps every photo (and is not allowed for the
  small CNN's test split).
  """
  if config.model in inputs_lib.SMALL_MODELS:
    if config.max_images < 1:
      raise ValueError(f"max_images must be >= 1 for {config.model} (test images), got "
                       f"{config.max_images}.")
    return inputs_lib.small_cnn_inputs(config.cnn_train, config.cnn_workdir, workdir,
                                       num_images=config.max_images, one_per_class=False)
  return inputs_lib.imagenet_inputs(config.model, weights=config.weights, images=config.images,
                                    files=config.files, max_images=config.max_images)


def saliency_maps(f, x: np.ndarray, targets: np.ndarray, config) -> np.ndarray:
  """``max_c |grad|`` [B, H, W], the gradient SmoothGrad-averaged when configured."""
  if config.smoothgrad_samples:
    grads = attribution.smoothgrad(attribution.input_gradients, f, x, targets,
                                   key=jax.random.key(config.seed),
                                   num_samples=config.smoothgrad_samples,
                                   noise_level=config.noise_level, chunk_size=config.chunk_size)
  else:
    grads = attribution.input_gradients(f, x, targets)
  return np.asarray(attribution.reduce_channels(grads, "max_abs"))


def mask_statistics(saliency: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
  """Per image: mask area fraction, saliency mass inside the mask, their ratio.

  Args:
    saliency: non-negative maps [B, H, W], none all-zero.
    masks: boolean masks [B, H, W], none empty (GrabCut keeps its foreground
      seeds, so its masks never are).

  Returns:
    ``{"mask_area_fraction", "saliency_mass_in_mask", "saliency_concentration"}``,
    each float [B]; the last is the ratio of the first two (mass / area).
  """
  area = masks.mean(axis=(1, 2))
  mass = np.where(masks, saliency, 0.0).sum(axis=(1, 2)) / saliency.sum(axis=(1, 2))
  return {"mask_area_fraction": area, "saliency_mass_in_mask": mass,
          "saliency_concentration": mass / area}


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``segmentation.png``, ``segmentation.npz``; returns per-image statistics.

  Metrics: ``images`` (per image: ``file``, ``class``, ``mask_area_fraction``,
  ``saliency_mass_in_mask``, ``saliency_concentration``), their means
  (``mean_mask_area_fraction``, ``mean_saliency_mass_in_mask``,
  ``mean_saliency_concentration``), ``model`` and ``saliency`` (the method).
  """
  segmentation.import_cv2()  # OpenCV missing: say so before any work.
  workdir = pathlib.Path(workdir)
  inputs = load_inputs(config, workdir)
  saliency = saliency_maps(inputs.f, inputs.x, inputs.targets, config)
  pixels = inputs.pixels
  # The seed reaches GrabCut's colour-model initialisation (OpenCV's RNG).
  masks = [segmentation.saliency_grabcut(image, s, fg_quantile=config.fg_quantile,
                                         bg_quantile=config.bg_quantile,
                                         iterations=config.grabcut_iterations, seed=config.seed)
           for image, s in zip(pixels, saliency)]
  masks = np.stack(masks)
  stats = mask_statistics(saliency, masks)
  names, classes = inputs.labelled_names, inputs.class_names
  wd.write_npz(workdir / "segmentation.npz", images=pixels, saliency=saliency, masks=masks,
               targets=inputs.targets, files=np.asarray(names))
  method = (f"SmoothGrad ({config.smoothgrad_samples} samples, noise "
            f"{config.noise_level:.0%}) of |gradient|" if config.smoothgrad_samples
            else "|gradient|")
  titles = [f"{n}\ntop-1: {c}" for n, c in zip(names, classes)]
  # Saliency is heavy-tailed: shown clipped at its 99th percentile so that a few
  # extreme pixels do not leave the rest of the map black.
  display = np.asarray(attribution.normalize_maps(saliency, 99.0))
  fig = attribution_extras.segmentation_figure(pixels, display, masks, titles=titles)
  fig.suptitle(f"{config.model}: {method}, max over channels (shown clipped at its 99th "
               f"percentile)\n-> GrabCut seeded with the top {1 - config.fg_quantile:.0%} / "
               f"bottom {config.bg_quantile:.0%}, largest component")
  wd.write_figure(workdir / "segmentation.png", fig)
  per_image = [{"file": n, "class": c, **{k: float(v[i]) for k, v in stats.items()}}
               for i, (n, c) in enumerate(zip(names, classes))]
  for r in per_image:
    LOG.info("%s (%s): mask %.2f of the image holds %.2f of the saliency", r["file"],
             r["class"], r["mask_area_fraction"], r["saliency_mass_in_mask"])
  return {
      "model": config.model,
      "saliency": method,
      "images": per_image,
      **{f"mean_{k}": float(np.mean(v)) for k, v in stats.items()},
  }


if __name__ == "__main__":
  common.main(run)
