"""Named settings of the ascent loop, converted to each model's input space.

Published settings are stated in the units of the paper's network; a preset
here is a function of the model's :class:`~jaxviz.models.meta.ModelMeta` that
converts them, never a copy of the numbers.

Yosinski et al. 2015 (https://arxiv.org/abs/1506.06579, section 3, the
four hyperparameter sets of their figure of class visualizations) work in
Caffe's mean-subtracted 0-255 pixel scale: ``x_caffe = pixel_255 - mean``.
A model input is ``x = (pixel_255 / 255 - mean) / std``, so, taking the
model's zero (its normalisation mean) for Caffe's mean, ``x_caffe = a x``
with ``a = 255 std = 1 / meta.pixel_budget(1, 255)`` per channel. Then:

* the update ``x_caffe += lr_caffe dS/dx_caffe`` is ``x += lr_caffe / a^2
  dS/dx`` (``dS/dx_caffe = dS/dx / a``): ``learning_rate = lr_caffe *
  meta.pixel_budget(1, 255) ** 2`` per channel (MobileNet: ``100 / 127.5^2
  = 0.00615``; the small CNN in [0, 1]: ``100 / 255^2``), plain gradient
  ascent;
* the start ``x_caffe ~ N(0, 10)`` (the toolbox's ``mean_plus_rand``) is
  ``x ~ N(0, meta.pixel_budget(10, 255))``;
* the decay ``x *= 1 - decay`` and the percentiles are unit-free; the
  contribution ``|sum_c x_c dS/dx_c|`` too; the pixel norm is measured in
  Caffe units (``norm_channel_scale = a``), which matters only when the
  channels' stds differ (VGG);
* blur widths are in pixels and stay (the paper's 227 px, MobileNetV2's
  224 px);
* the clip to ``[0, 255]`` is the clip to ``meta.input_bounds``.

Sets (learning rate 100 for all four: the paper gives it for sets 2 and 3;
the toolbox's hyperparameter sweep, ``optimize/`` in
yosinski/deep-visualization-toolbox, starts every set from 100):

=====  =======  ================  ============  ===================  =====
set    decay    blur (sigma, k)   norm pct      contribution pct     steps
=====  =======  ================  ============  ===================  =====
1      0        0.5 every 4       50            0                    500
2      0.3      off               20            0                    750
3      1e-4     1.0 every 4       0             0                    1000
4      0        0.5 every 4       0             90                   1000
=====  =======  ================  ============  ===================  =====

Other presets: ``"simonyan"`` (class-model visualization, Simonyan et al.
2013, https://arxiv.org/abs/1312.6034 : the zero image, ``S_c - lambda
||x||^2``, no other regularizer; Adam with a step of 2/255 of the pixel range
per step, because the paper gives no step size), ``"lucid"`` (Olah et al.
2017, https://distill.pub/2017/feature-visualization/ : the decorrelated
Fourier parameterization, Lucid's standard transforms, Adam 0.05, 512 steps,
128 px, the redirected ReLU gradient for the first 16 steps) and
``"lucid_class"`` (the same at the model's own input size, the default of
class-model visualization; the transforms need a model that takes the
padded size, e.g. a fully convolutional one with global pooling; for fixed-
size models use ``"lucid_fixed_size"``: no pad, a +-2 px jitter, the same
zooms and rotations). ``"robust_class"``, the default of
``experiments.class_model``, widens the transforms (pad 16, jitter +-8 and
+-4 px, zoom 0.6 to 1.4, rotation +-15 degrees), so that the class must be
recognisable at more scales. Measured by ``experiments.class_model`` on 12
ImageNet classes of MobileNetV2 (512 steps): both reach probability 1.00 for
every class, but under MobileNetV1 0.25, which was not optimised, the mean
probability of the target is 0.096 with ``"robust_class"`` against 0.0015
with ``"lucid_class"`` (0.0004 unregularized; chance is 0.001).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxviz.synthesis import ascent
from jaxviz.synthesis import parameterizations as param_lib
from jaxviz.synthesis import transforms as transforms_lib

__all__ = ("PRESETS", "Preset", "YOSINSKI_SETS", "preset", "yosinski_caffe_settings")

# (decay, blur_sigma, blur_every, norm_percentile, contribution_percentile, steps, lr) in Caffe units.
YOSINSKI_SETS = {
    1: (0.0, 0.5, 4, 50.0, 0.0, 500, 100.0),
    2: (0.3, 0.0, 0, 20.0, 0.0, 750, 100.0),
    3: (1e-4, 1.0, 4, 0.0, 0.0, 1000, 100.0),
    4: (0.0, 0.5, 4, 0.0, 90.0, 1000, 100.0),
}
YOSINSKI_INIT_STD = 10.0  # Caffe units (deep-visualization-toolbox's "mean_plus_rand")
SIMONYAN_STEP_PIXELS = 2.0  # per Adam step, in 8-bit pixel levels
LUCID_SIZE = 128
ROBUST_SCALES = tuple(round(0.6 + 0.05 * i, 2) for i in range(17))  # 0.6, 0.65, ..., 1.4
PRESETS = ("simonyan", "yosinski_1", "yosinski_2", "yosinski_3", "yosinski_4", "lucid",
           "lucid_class", "robust_class", "lucid_fixed_size")


@dataclasses.dataclass(frozen=True)
class Preset:
  """A parameterization recipe and loop settings for one model.

  Attributes:
    name: the preset's name.
    parameterization: ``"pixel"`` or ``"fourier"``.
    options: keyword options of :func:`parameterizations.make` (pairs).
    config: the :class:`~jaxviz.synthesis.ascent.AscentConfig`.
    size: image side in pixels, or None for the model's input size.
  """

  name: str
  parameterization: str
  options: tuple[tuple[str, Any], ...]
  config: ascent.AscentConfig
  size: int | None = None

  def parameterize(self, meta, batch: int, size: int | None = None):
    """The preset's parameterization for ``batch`` images (``size`` overrides its size)."""
    size = size if size is not None else self.size
    return param_lib.make(self.parameterization, meta, batch, size=size, **dict(self.options))

  def replace(self, **config_changes) -> "Preset":
    """The preset with some loop settings changed (e.g. ``steps=8`` for a smoke run)."""
    return dataclasses.replace(self, config=self.config.replace(**config_changes))


def _per_channel(values: np.ndarray) -> float | tuple[float, ...]:
  values = np.asarray(values, np.float64)
  if np.allclose(values, values[0], rtol=1e-6):
    return float(values[0])
  return tuple(float(v) for v in values)


def yosinski_caffe_settings(number: int) -> dict[str, float]:
  """Set ``number`` (1-4) as published, in Caffe's 0-255 units."""
  if number not in YOSINSKI_SETS:
    raise ValueError(f"Unknown Yosinski set {number!r}; expected one of {sorted(YOSINSKI_SETS)}.")
  keys = ("decay", "blur_sigma", "blur_every", "norm_percentile", "contribution_percentile",
          "steps", "learning_rate")
  return dict(zip(keys, YOSINSKI_SETS[number]))


def _yosinski(number: int, meta) -> Preset:
  caffe = yosinski_caffe_settings(number)
  unit = meta.pixel_budget(1.0, 255)  # input units per Caffe unit, per channel
  config = ascent.AscentConfig(
      steps=int(caffe["steps"]), optimizer="sgd",
      learning_rate=_per_channel(caffe["learning_rate"] * unit ** 2),
      decay=caffe["decay"], blur_every=int(caffe["blur_every"]), blur_sigma=caffe["blur_sigma"],
      norm_percentile=caffe["norm_percentile"], norm_channel_scale=_per_channel(1.0 / unit),
      contribution_percentile=caffe["contribution_percentile"])
  init = meta.pixel_budget(YOSINSKI_INIT_STD, 255)
  low, high = meta.input_bounds
  # PixelParameterization's clip init_scale is a fraction of the box width.
  init_scale = float(np.mean(init / (high - low)))
  return Preset(f"yosinski_{number}", "pixel", (("squash", "clip"), ("init_scale", init_scale)),
                config)


def _simonyan(meta) -> Preset:
  step = float(np.mean(meta.pixel_budget(SIMONYAN_STEP_PIXELS, 255)))
  config = ascent.AscentConfig(steps=300, optimizer="adam", learning_rate=step, l2_weight=1e-4)
  return Preset("simonyan", "pixel", (("squash", "clip"), ("init_scale", 0.0)), config)


def _lucid(name: str, size: int | None, transforms: transforms_lib.Transforms) -> Preset:
  config = ascent.AscentConfig(steps=512, optimizer="adam", learning_rate=0.05,
                               transforms=transforms, redirect_steps=16)
  return Preset(name, "fourier", (), config, size)


def preset(name: str, meta) -> Preset:
  """The named preset for the model described by ``meta``.

  Raises:
    ValueError: an unknown name (lists :data:`PRESETS`).
  """
  if name not in PRESETS:
    raise ValueError(f"Unknown preset {name!r}; expected one of {PRESETS}.")
  if name == "simonyan":
    return _simonyan(meta)
  if name.startswith("yosinski_"):
    return _yosinski(int(name[-1]), meta)
  if name == "lucid":
    return _lucid(name, LUCID_SIZE, transforms_lib.lucid())
  if name == "lucid_class":
    return _lucid(name, None, transforms_lib.lucid())
  if name == "robust_class":
    return _lucid(name, None, transforms_lib.Transforms(
        pad=16, pad_value=0.5, jitter=8, scales=ROBUST_SCALES,
        angles=tuple(float(a) for a in range(-15, 16)), final_jitter=4))
  fixed = dataclasses.replace(transforms_lib.lucid(), pad=0, jitter=2, final_jitter=0)
  return _lucid(name, None, fixed)
