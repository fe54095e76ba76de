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
"""

from __future__ import annotations

import functools
import logging
import pathlib

import jax
import numpy as np

from jaxviz import assets
from jaxviz import data
from jaxviz import validation
from jaxviz import workdir as wd
from jaxviz.attribution import gradients
from jaxviz.attribution import reductions
from jaxviz.attribution import segmentation
from jaxviz.attribution.smoothgrad import smoothgrad
from jaxviz.models import registry
from jaxviz.plotting import attribution_extras
from jaxviz.runs import train as train_run

LOG = logging.getLogger(__name__)
PHOTOS = "sample_images_imagenet"
CNN_MODELS = ("small_cnn",)


def require_cv2():
  """The ``cv2`` module; ImportError naming the install command when it is missing."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("The segmentation experiment needs OpenCV (GrabCut): install it with "
                      "`pip install -e .[segment]` (opencv-python-headless).") from e
  return cv2


def load_photos(folder: str, files=()) -> tuple[list[np.ndarray], list[str]]:
  """Photos of ``folder`` (default: ``$JAXVIZ_DATA_DIR/sample_images_imagenet``).

  Args:
    folder: explicit folder, or "" for the shared sample photos.
    files: file names to keep, in this order; empty keeps every image.

  Returns:
    ``(uint8 images [H_i, W_i, 3], names)``.

  Raises:
    ValueError: a requested file is not in the folder.
  """
  images, names = data.load_image_folder(assets.find_asset(PHOTOS, folder or None))
  if not files:
    return images, names
  missing = [f for f in files if f not in names]
  if missing:
    raise ValueError(f"Image file(s) {missing} not found; available: {names}.")
  return [images[names.index(f)] for f in files], list(files)


def load_model_and_images(config, workdir: pathlib.Path, max_images: int):
  """``(model, params, meta, x [B, H, W, C], names)`` for ``config.model``.

  ImageNet models read the photo folder ``config.images``; the small CNN
  (trained on demand into ``config.cnn_workdir``) reads the first test images
  of its dataset. ``max_images`` = 0 keeps every photo (and is not allowed
  for the small CNN's test split).
  """
  if config.model in CNN_MODELS:
    if max_images < 1:
      raise ValueError(f"max_images must be >= 1 for {config.model} (test images), got "
                       f"{max_images}.")
    model, params, meta = train_run.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                        workdir, "cnn")
    test = train_run.load_test_split(config.cnn_train, max_images)
    names = [f"test[{i}] (label {test.class_names[y]})" for i, y in enumerate(test.labels)]
    return model, params, meta, meta.preprocess(test.images), names
  model, params, meta = registry.load_model(config.model, path=config.weights or None)
  images, names = load_photos(config.images, config.files)
  if max_images:
    images, names = images[:max_images], names[:max_images]
  return model, params, meta, data.prepare_for_model(images, meta), names


def to_pixels(x: np.ndarray, meta) -> np.ndarray:
  """Model inputs [B, H, W, C] -> uint8 RGB [B, H, W, 3] (gray repeated)."""
  pixels = np.round(meta.deprocess(x) * 255.0).astype(np.uint8)
  return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


@functools.partial(jax.jit, static_argnames=("model",))
def _logits(model, params, x):
  return model.apply({"params": params}, x)


def saliency_maps(f, x: np.ndarray, targets: np.ndarray, config) -> np.ndarray:
  """``max_c |grad|`` [B, H, W], the gradient SmoothGrad-averaged when configured."""
  if config.smoothgrad_samples:
    grads = smoothgrad(gradients.input_gradients, f, x, targets, key=jax.random.key(config.seed),
                       num_samples=config.smoothgrad_samples, noise_level=config.noise_level,
                       chunk_size=config.chunk_size)
  else:
    grads = gradients.input_gradients(f, x, targets)
  return np.asarray(reductions.reduce_channels(grads, "max_abs"))


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
  cv2 = require_cv2()
  workdir = pathlib.Path(workdir)
  model, params, meta, x, names = load_model_and_images(config, workdir, config.max_images)
  validation.check_model_input(x, meta)
  f = functools.partial(model.apply, {"params": params})
  logits = np.asarray(_logits(model, params, x))
  targets = (np.argmax(logits[:, meta.label_offset:], axis=-1)
             + meta.label_offset).astype(np.int32)
  classes = [meta.class_names[int(c)] for c in meta.class_index(targets)]
  saliency = saliency_maps(f, x, targets, config)
  pixels = to_pixels(x, meta)
  masks = []
  for image, s in zip(pixels, saliency):
    # GrabCut initialises its colour models with OpenCV's global RNG (k-means++):
    # seed it so the same config gives the same masks.
    cv2.setRNGSeed(config.seed)
    masks.append(segmentation.saliency_grabcut(
        image, s, fg_quantile=config.fg_quantile, bg_quantile=config.bg_quantile,
        iterations=config.grabcut_iterations))
  masks = np.stack(masks)
  stats = mask_statistics(saliency, masks)
  wd.write_npz(workdir / "segmentation.npz", images=pixels, saliency=saliency, masks=masks,
               targets=targets, files=np.asarray(names))
  method = (f"SmoothGrad ({config.smoothgrad_samples} samples, noise "
            f"{config.noise_level:.0%}) of |gradient|" if config.smoothgrad_samples
            else "|gradient|")
  titles = [f"{n}\ntop-1: {c.split(',')[0]}" for n, c in zip(names, classes)]
  # Saliency is heavy-tailed: shown clipped at its 99th percentile so that a few
  # extreme pixels do not leave the rest of the map black.
  display = np.asarray(reductions.normalize_maps(saliency, 99.0))
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
