"""Weakly supervised object segmentation from a saliency map with GrabCut.

Simonyan et al. 2013, "Deep Inside Convolutional Networks: Visualising Image
Classification Models and Saliency Maps", section 3.1,
https://arxiv.org/abs/1312.6034; GrabCut: Rother et al. 2004,
https://doi.org/10.1145/1015706.1015720.

The saliency map of the predicted class marks only the most discriminative
pixels; GrabCut propagates that to the whole object with colour models. As in
the paper, the foreground colour model is seeded from the pixels whose
saliency is at or above the 95% quantile of the image's saliency and the
background model from the pixels below the 30% quantile, and the mask is the
largest connected component of the resulting foreground.

OpenCV's GrabCut needs a label for every pixel, so (``cv2.GC_INIT_WITH_MASK``):

* saliency >= ``fg_quantile`` quantile: definite foreground (``GC_FGD``).
  Hard seeds keep GrabCut from flipping everything to background when the
  background colour model also explains the object; isolated salient
  background pixels forced into the foreground are dropped by the
  largest-component step.
* saliency < ``bg_quantile`` quantile: definite background (``GC_BGD``).
* everything else: probable background (``GC_PR_BGD``), free to become
  foreground.

OpenCV is an optional dependency (``pip install -e .[segment]``), imported
when the function runs.
"""

from __future__ import annotations

import numpy as np

from jaxviz import validation

__all__ = ("import_cv2", "saliency_grabcut")


def import_cv2():
  """The ``cv2`` module; ImportError naming the install command when it is missing."""
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("saliency_grabcut needs OpenCV; install it with "
                      "`pip install -e .[segment]` (opencv-python-headless).") from e
  return cv2


def saliency_grabcut(image: np.ndarray, saliency: np.ndarray, *, fg_quantile: float = 0.95,
                     bg_quantile: float = 0.30, iterations: int = 5,
                     largest_component: bool = True, seed: int = 0) -> np.ndarray:
  """Object mask from a saliency map: quantile seeds, GrabCut, largest component.

  Args:
    image: RGB image ``[H, W, 3]``, uint8.
    saliency: saliency map ``[H, W]`` (e.g. max over channels of the absolute
      gradient), finite floats; larger means more salient.
    fg_quantile: pixels at or above this quantile are foreground seeds.
    bg_quantile: pixels below this quantile are background seeds.
    iterations: GrabCut iterations.
    largest_component: keep only the largest 8-connected foreground
      component, as in the paper.
    seed: seed of OpenCV's global RNG (GrabCut's k-means initialisation uses
      it), set before the call so the mask is reproducible.

  Returns:
    Boolean mask ``[H, W]`` (True = object).

  Raises:
    ValueError: wrong shapes/dtypes, non-finite saliency, bad quantiles or
      iterations, or a saliency map too flat to give both kinds of seeds.
    ImportError: OpenCV is not installed.
  """
  image = np.asarray(image)
  saliency = np.asarray(saliency)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be RGB [H, W, 3], got shape {image.shape}.")
  if image.dtype != np.uint8:
    raise ValueError(f"image must be uint8 (0-255), got dtype {image.dtype}.")
  if saliency.shape != image.shape[:2]:
    raise ValueError(f"saliency must be [H, W] = {image.shape[:2]} like the image, got shape "
                     f"{saliency.shape}.")
  if not np.issubdtype(saliency.dtype, np.number) or not np.all(np.isfinite(saliency)):
    raise ValueError("saliency must be a finite real-valued map.")
  if not 0.0 <= bg_quantile < fg_quantile <= 1.0:
    raise ValueError(f"Need 0 <= bg_quantile < fg_quantile <= 1, got bg_quantile={bg_quantile}, "
                     f"fg_quantile={fg_quantile}.")
  iterations = validation.check_positive_int(iterations, "iterations")
  foreground = saliency >= np.quantile(saliency, fg_quantile)
  background = saliency < np.quantile(saliency, bg_quantile)
  if not background.any() or foreground.all():
    raise ValueError("saliency is too flat: the quantile thresholds give no background seeds "
                     "(is the map constant?).")
  cv2 = import_cv2()

  labels = np.full(saliency.shape, cv2.GC_PR_BGD, np.uint8)
  labels[background] = cv2.GC_BGD
  labels[foreground] = cv2.GC_FGD
  bgd_model = np.zeros((1, 65), np.float64)
  fgd_model = np.zeros((1, 65), np.float64)
  bgr = np.ascontiguousarray(image[..., ::-1])
  cv2.setRNGSeed(int(seed))
  cv2.grabCut(bgr, labels, None, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
  mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
  if largest_component and mask.any():
    _, components, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8),
                                                              connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    mask = components == largest
  return mask
