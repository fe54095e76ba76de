"""Colour decorrelation: a square root of the RGB covariance of natural photos.

Lucid's decorrelated parameterizations (Olah et al. 2017,
https://distill.pub/2017/feature-visualization/, "Preconditioning and
Parameterization") optimise a latent image whose three channels are
uncorrelated and map it to RGB with a square root ``M`` of the colour
covariance (``M @ M.T = Sigma``), so that independent latent noise becomes
noise with the colour statistics of photographs.

:data:`RGB_COVARIANCE_SQRT` was derived here, not copied: it is
:func:`covariance_sqrt` of the 29 RGB photos of ``$JAXVIZ_DATA_DIR``'s
``sample_images_imagenet`` (9 photos) and ``foolbox_samples/imagenet_*`` (20
ImageNet samples), each resized to 224x224 (every photo weighs the same), as
pixels in [0, 1]. ``tests/test_synthesis_parameterizations.py`` recomputes it
from those files. The covariance of those pixels is::

  [[0.057716, 0.047731, 0.041400],
   [0.047731, 0.052682, 0.044338],
   [0.041400, 0.044338, 0.058237]]

The square root is the PCA form ``U sqrt(S)`` (columns: the principal colour
axes, largest first, each scaled by its standard deviation), not the
symmetric one: the latent channels are then luminance (column 0, all
positive, std 0.38 of a [0, 1] pixel), a blue-red opponent axis (0.13) and a
green-magenta axis (0.08), and Adam adapts its step per principal axis. Sign
convention: each column's largest-magnitude entry is positive.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ("RGB_COVARIANCE_SQRT", "covariance_sqrt", "decorrelation_matrix")

# covariance_sqrt(29 photos at 224x224, pixels in [0, 1]); see the module docstring.
RGB_COVARIANCE_SQRT = np.array([
    [0.222767, -0.078777, -0.043419],
    [0.219335, -0.021077, 0.064264],
    [0.217874, 0.101765, -0.020301],
], np.float32)


def covariance_sqrt(pixels: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
  """The PCA square root ``U sqrt(S)`` of the channel covariance of ``pixels``.

  Args:
    pixels: float pixels ``[..., C]`` (e.g. ``[N, H, W, 3]`` in [0, 1]), or a
      list of such arrays (pooled).

  Returns:
    float64 ``[C, C]`` ``M`` with ``M @ M.T`` = the covariance; columns are
    the principal axes ordered by decreasing variance, each column's
    largest-magnitude entry positive.

  Raises:
    ValueError: fewer than two pixels, or arrays with different channel counts.
  """
  arrays = [np.asarray(p, np.float64) for p in
            (pixels if isinstance(pixels, (list, tuple)) else [pixels])]
  if len({a.shape[-1] for a in arrays}) != 1:
    raise ValueError("covariance_sqrt: every array needs the same number of channels.")
  flat = np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays])
  if flat.shape[0] < 2:
    raise ValueError("covariance_sqrt needs at least two pixels.")
  values, vectors = np.linalg.eigh(np.atleast_2d(np.cov(flat, rowvar=False)))
  order = np.argsort(values)[::-1]
  values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
  largest = np.argmax(np.abs(vectors), axis=0)
  vectors = vectors * np.sign(vectors[largest, np.arange(vectors.shape[1])])[None]
  return vectors * np.sqrt(values)[None]


def decorrelation_matrix(channels: int) -> np.ndarray:
  """The latent-to-pixel colour matrix ``[C, C]`` used by the parameterizations.

  RGB: :data:`RGB_COVARIANCE_SQRT` divided by its largest column norm (the
  luminance axis has unit gain, as in Lucid). One channel (grey): ``[[1]]``.

  Raises:
    ValueError: ``channels`` is neither 1 nor 3.
  """
  if channels == 1:
    return np.ones((1, 1), np.float32)
  if channels == 3:
    return (RGB_COVARIANCE_SQRT / np.linalg.norm(RGB_COVARIANCE_SQRT, axis=0).max()
            ).astype(np.float32)
  raise ValueError(f"Colour decorrelation needs 1 or 3 channels, got {channels}.")
