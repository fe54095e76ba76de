"""Model metadata: what a model expects as input and what its outputs mean."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

__all__ = ("ModelMeta",)


@dataclasses.dataclass(frozen=True)
class ModelMeta:
  """Everything a method or experiment needs to feed a model and read its output.

  Preprocessing maps pixels in [0, 255] to the model's input space as
  ``x = (pixels / 255 - mean) / std`` per channel. MobileNet's ``x/127.5 - 1``
  is ``mean = std = 0.5``; VGG uses the ImageNet mean/std; the small CNN uses
  ``mean = 0, std = 1`` (inputs in [0, 1]).

  Attributes:
    name: registry name of the model, e.g. ``"mobilenet_v2"``.
    input_shape: ``(H, W, C)`` of one input image.
    mean: per-channel mean subtracted from ``pixels / 255``.
    std: per-channel std dividing ``pixels / 255 - mean``.
    class_names: one name per dataset class (1000 for ImageNet).
    label_offset: logit index of dataset class 0. MobileNet's TF-slim heads
      have 1001 logits with a "background" class at index 0, so the offset is
      1; all other models have 0.
    num_logits: length of the model's output vector.
  """

  name: str
  input_shape: tuple[int, int, int]
  mean: tuple[float, ...]
  std: tuple[float, ...]
  class_names: tuple[str, ...]
  label_offset: int = 0
  num_logits: int | None = None

  def __post_init__(self):
    if self.num_logits is None:
      object.__setattr__(self, "num_logits", len(self.class_names) + self.label_offset)

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  @property
  def input_range(self) -> tuple[float, float]:
    """Smallest and largest value of the model input space over all channels."""
    low, high = self.input_bounds
    return float(low.min()), float(high.max())

  @property
  def input_bounds(self) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(low [C], high [C])`` of the valid input box (pixels 0 and 255)."""
    mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
    return (0.0 - mean) / std, (1.0 - mean) / std

  def pixel_budget(self, value, pixel_scale: float = 1.0) -> np.ndarray:
    """A pixel-space amount in the model's input units, per channel.

    The one place where budgets given in pixel units (attack epsilons and
    step sizes, clipping thresholds, published presets) become input-space
    amounts: ``value / pixel_scale / std``. A difference of ``value`` in
    pixels scaled to ``[0, pixel_scale]`` is a difference of that many input
    units, because ``x = (pixels / 255 - mean) / std`` is affine.
    MobileNet (``std = 0.5``): 8/255 in [0, 1] pixels is 16/255 input units.

    Args:
      value: a non-negative amount in pixel units (scalar or per channel [C]).
      pixel_scale: the scale ``value`` is given in: 1 for pixels in [0, 1]
        (the papers' epsilons), 255 for 8-bit pixels.

    Returns:
      float32 [C], the amount per input channel.

    Raises:
      ValueError: a negative or non-finite value or a non-positive scale.
    """
    value = np.asarray(value, np.float64)
    if not np.all(np.isfinite(value)) or np.any(value < 0):
      raise ValueError(f"pixel budget must be finite and >= 0, got {value.tolist()}.")
    if not pixel_scale > 0:
      raise ValueError(f"pixel_scale must be > 0, got {pixel_scale!r}.")
    std = np.asarray(self.std, np.float64)
    return np.broadcast_to(value / pixel_scale / std, std.shape).astype(np.float32)

  def preprocess(self, pixels: np.ndarray) -> np.ndarray:
    """Maps pixels ``[..., H, W, C]`` in [0, 255] to float32 model inputs."""
    pixels = np.asarray(pixels, np.float32)
    return ((pixels / 255.0 - np.asarray(self.mean, np.float32))
            / np.asarray(self.std, np.float32)).astype(np.float32)

  def deprocess(self, x) -> np.ndarray:
    """Maps model inputs ``[..., H, W, C]`` back to float32 images in [0, 1]."""
    x = np.asarray(x, np.float32)
    img = x * np.asarray(self.std, np.float32) + np.asarray(self.mean, np.float32)
    return np.clip(img, 0.0, 1.0)

  def logit_index(self, labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Dataset class indices -> logit indices (adds ``label_offset``)."""
    return np.asarray(labels) + self.label_offset

  def class_index(self, logit_indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Logit indices -> dataset class indices (``-1`` for background)."""
    return np.asarray(logit_indices) - self.label_offset
