"""Synthesis throughput: jaxviz's ascent loop against the same loop in PyTorch, same weights.

Two loops, each ``steps`` ascent steps of a class logit on a batch of images
(one target class per image), timed per call (a call runs the whole loop
from a fresh initialisation):

* ``synthesis_fourier`` (feature visualization, Olah et al. 2017): Lucid's
  decorrelated Fourier parameterization (1/f spectrum, colour square root,
  sigmoid into the box), random pad / jitter / zoom / rotation of every image
  at every step, Adam 0.05;
* ``synthesis_pixel`` (class-model visualization, Simonyan et al. 2013):
  the image itself, ``S_c - lambda ||x||^2``, Adam, a clip to the box after
  every step.

``jaxviz``: :func:`jaxviz.synthesis.ascend` (one compiled ``lax.scan`` of all
steps; the first call, which compiles, is reported as ``compile_seconds``).
``torch``: the same computation written with PyTorch ops on the PyTorch twin
of the model (:mod:`benchmarks.torch_models`, the very same weights, checked
to reproduce the jaxviz logits first): ``torch.fft.irfft2``, the same
frequency scale and colour matrix, ``F.affine_grid``/``F.grid_sample`` for
zoom and rotation, ``torch.roll`` for jitter, ``torch.optim.Adam``. Both
sides skip the redirected-ReLU steps (PyTorch has no such rule here), so they
do the same work per step. For the small CNN (a fixed 28x28 input) the
transforms keep the size: no pad, +-2 px jitter, the zooms and rotations.

Records are :mod:`benchmarks.timing`'s (``model``, ``method``, ``batch``,
``impl``, ``images_per_second``: images synthesized per second,
``compile_seconds``, ...) plus ``synthesis_steps_per_second`` (image-steps
per second: ``batch * steps / time``) and ``steps``. Entry point:
:func:`synthesis_benchmark`; :func:`synthesis_markdown` renders the records.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from typing import Any, Callable, Sequence

import jax
import numpy as np

from benchmarks import parse_batch_sizes
from benchmarks import parse_models
from benchmarks import timing
from jaxviz import synthesis
from jaxviz import validation
from jaxviz.synthesis import transforms as transforms_lib

LOG = logging.getLogger(__name__)

SYNTHESIS_METHODS = ("synthesis_fourier", "synthesis_pixel")
SYNTHESIS_IMPLS = ("jaxviz", "torch")
LEARNING_RATE = 0.05
L2_WEIGHT = 1e-4


@dataclasses.dataclass(frozen=True)
class _Setup:
  param: Any
  config: synthesis.AscentConfig


def _setup(method: str, bm: timing.BenchModel, batch: int, steps: int) -> _Setup:
  if method == "synthesis_fourier":
    lucid = transforms_lib.lucid()
    if bm.name != "mobilenet_v2":  # a fixed-size input: keep the size
      lucid = dataclasses.replace(lucid, pad=0, jitter=2, final_jitter=0)
    config = synthesis.AscentConfig(steps=steps, chunk=steps, learning_rate=LEARNING_RATE,
                                    transforms=lucid)
    return _Setup(synthesis.fourier(bm.meta, batch), config)
  step = float(np.mean(bm.meta.pixel_budget(2.0, 255)))
  config = synthesis.AscentConfig(steps=steps, chunk=steps, learning_rate=step,
                                  l2_weight=L2_WEIGHT)
  return _Setup(synthesis.pixel(bm.meta, batch, squash="clip", init_scale=0.0), config)


def torch_fourier_render(param, coefficients):
  """jaxviz's Fourier ``param.render`` in PyTorch: coefficients [B, C, H, W // 2 + 1, 2] -> NCHW."""
  import torch  # pylint: disable=g-import-not-at-top

  _, height, width, channels = param.shape
  low = torch.tensor(param.low).view(1, channels, 1, 1)
  high = torch.tensor(param.high).view(1, channels, 1, 1)
  scale = torch.from_numpy(synthesis.frequency_scale(height, width, param.decay_power))
  spectrum = torch.complex(coefficients[..., 0], coefficients[..., 1]) * scale
  latent = torch.fft.irfft2(spectrum, s=(height, width), norm="ortho")
  if param.decorrelate:
    matrix = torch.from_numpy(synthesis.decorrelation_matrix(channels))
    latent = torch.einsum("dc,bchw->bdhw", matrix, latent)
  return low + (high - low) * torch.sigmoid(latent)


def _torch_loop(method: str, setup: _Setup, twin, targets: np.ndarray
                ) -> Callable[[], Any]:
  """The same ascent written in PyTorch: returns the zero-argument timed call."""
  import torch  # pylint: disable=g-import-not-at-top
  import torch.nn.functional as F  # pylint: disable=g-import-not-at-top

  param, config = setup.param, setup.config
  batch, height, width, channels = param.shape
  low = torch.tensor(param.low).view(1, channels, 1, 1)
  high = torch.tensor(param.high).view(1, channels, 1, 1)
  target = torch.from_numpy(targets.astype(np.int64))
  gen = torch.Generator().manual_seed(0)
  tf = config.transforms

  def transform(images):
    fill = low + tf.pad_value * (high - low)
    if tf.pad:
      canvas = fill.expand(batch, channels, height + 2 * tf.pad, width + 2 * tf.pad).clone()
      canvas[:, :, tf.pad:tf.pad + height, tf.pad:tf.pad + width] = images
      images = canvas

    def jitter(images, largest):
      if not largest:
        return images
      shifts = torch.randint(-largest, largest + 1, (batch, 2), generator=gen)
      return torch.stack([torch.roll(im, tuple(s.tolist()), dims=(1, 2))
                          for im, s in zip(images, shifts)])

    images = jitter(images, tf.jitter)
    if tf.scales or tf.angles:
      scale = torch.tensor(tf.scales)[torch.randint(len(tf.scales), (batch,), generator=gen)]
      angle = torch.tensor(tf.angles)[torch.randint(len(tf.angles), (batch,), generator=gen)]
      theta = torch.deg2rad(angle)
      cos, sin = torch.cos(theta) / scale, torch.sin(theta) / scale
      affine = torch.stack([torch.stack([cos, -sin, torch.zeros(batch)], -1),
                            torch.stack([sin, cos, torch.zeros(batch)], -1)], 1)
      grid = F.affine_grid(affine, list(images.shape), align_corners=True)
      images = F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=True) + fill
    return jitter(images, tf.final_jitter)

  def run():
    if method == "synthesis_fourier":
      coefficients = (param.init_scale * torch.randn(
          (batch, channels, height, width // 2 + 1, 2), generator=gen)).requires_grad_()
      render = lambda: torch_fourier_render(param, coefficients)
      variable = coefficients
    else:
      image = torch.zeros((batch, channels, height, width)).requires_grad_()
      render = lambda: image
      variable = image
    optimizer = torch.optim.Adam([variable], lr=config.learning_rate)
    for _ in range(config.steps):
      optimizer.zero_grad(set_to_none=True)
      images = render()
      logits = twin(transform(images) if method == "synthesis_fourier" else images)
      objective = logits.gather(1, target[:, None]).sum()
      if config.l2_weight:
        objective = objective - config.l2_weight * images.square().sum()
      (-objective).backward()
      optimizer.step()
      if method == "synthesis_pixel":
        with torch.no_grad():
          image.copy_(torch.maximum(torch.minimum(image, high), low))
    return variable.detach()

  return run


def synthesis_benchmark(models: Sequence[str] = ("small_cnn", "mobilenet_v2"),
                        batch_sizes: Sequence[int] = (8,), *,
                        methods: Sequence[str] = SYNTHESIS_METHODS, steps: int = 10,
                        repeats: int = 3, warmups: int = 2, min_sample_seconds: float = 0.2,
                        impls: Sequence[str] = SYNTHESIS_IMPLS,
                        torch_threads: int | None = None,
                        small_cnn_workdir: str | None = None) -> list[dict[str, Any]]:
  """Times ``steps`` synthesis steps in jaxviz and in PyTorch on the same models.

  Args:
    models: from :data:`benchmarks.MODELS`.
    batch_sizes: images (one class each) per call.
    methods: from :data:`SYNTHESIS_METHODS`.
    steps: ascent steps per timed call.
    repeats: timed samples (median reported).
    warmups: untimed calls first (jaxviz's first one compiles).
    min_sample_seconds: shortest timed sample (see ``timing.time_interleaved``).
    impls: from :data:`SYNTHESIS_IMPLS`; ``torch`` is skipped with a warning
      when PyTorch is not installed.
    torch_threads: ``torch.set_num_threads``; default ``os.cpu_count()``.
    small_cnn_workdir: a trained small CNN; default random parameters.

  Returns:
    Records (see the module doc).

  Raises:
    ValueError: unknown model, method or implementation, bad counts.
    RuntimeError: a PyTorch twin does not reproduce the jaxviz logits.
  """
  models = parse_models(models)
  batch_sizes = parse_batch_sizes(batch_sizes)
  steps = validation.check_positive_int(steps, "steps")
  for values, valid, what in ((methods, SYNTHESIS_METHODS, "method"),
                              (impls, SYNTHESIS_IMPLS, "implementation")):
    unknown = [v for v in values if v not in valid]
    if unknown or not values:
      raise ValueError(f"Unknown or no synthesis {what}(s) {unknown}; valid: {valid}.")
  has_torch, _, torch_message = timing.torch_status()
  use_torch = "torch" in impls and has_torch
  if "torch" in impls and not use_torch:
    LOG.warning("Skipping torch: %s", torch_message)
  if use_torch:
    import torch  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(torch_threads or os.cpu_count() or 1)
  records = []
  for name in models:
    bm = timing.load_bench_model(name, small_cnn_workdir=small_cnn_workdir)
    fn = synthesis.layer_fn(bm.model, {"params": bm.params}, None,
                            (1,) + tuple(bm.meta.input_shape))
    twin = timing.checked_twin(bm) if use_torch else None
    for batch in batch_sizes:
      classes = np.arange(batch) * 7 % bm.meta.num_classes
      targets = bm.meta.logit_index(classes).astype(np.int32)
      for method in methods:
        setup = _setup(method, bm, batch, steps)
        key = jax.random.key(0)
        fns = {}
        if "jaxviz" in impls:
          fns["jaxviz"] = lambda setup=setup, targets=targets, key=key: synthesis.ascend(
              fn, synthesis.Objective("logit"), targets, setup.param, key, setup.config,
              progress_seconds=math.inf).images
        if twin is not None:
          fns["torch"] = _torch_loop(method, setup, twin, targets)
        records += timing.step_records(
            name, method, batch, fns, steps=steps, rate_key="synthesis_steps_per_second",
            repeats=repeats, warmups=warmups, min_sample_seconds=min_sample_seconds,
            image_size=list(setup.param.shape[1:3]))
  return records


def synthesis_markdown(records: Sequence[dict[str, Any]]) -> str:
  """The synthesis records as a markdown table (image-steps per second, higher is better)."""
  return timing.ratio_table(records, "synthesis_steps_per_second", SYNTHESIS_IMPLS, "loop")
