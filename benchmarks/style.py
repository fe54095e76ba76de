"""Style transfer iterations/second: jaxviz against the same loop in PyTorch, same weights.

The lead's entry point calls :func:`run_style_benchmark`. Both sides run the
very same problem: MobileNetV2 (the shared ImageNet weights; the PyTorch twin
from :func:`benchmarks.torch_models.from_flax`), the content image and S style
images, the layers, per-layer weights and loss weights of a
:mod:`jaxviz.style` preset, the same loss formulas (Gram ``F^T F / (H W C)``,
mean squared differences, TV on 8-bit pixels). Before timing, the PyTorch
loss at the content image is checked against jaxviz's (the benchmark aborts
if they differ).

Methods (one record each per implementation):

* ``style_adam``: ``iterations`` projected Adam steps on S styles at once
  (jaxviz: the vmapped loop; PyTorch: one ``torch.optim.Adam`` over the
  [S, 3, H, W] batch, clamped after each step; the problems are independent,
  so both do the same work: one forward and backward pass of S images per
  step);
* ``style_lbfgs``: ``iterations`` L-BFGS steps on one style (optax's L-BFGS
  with its zoom line search vs ``torch.optim.LBFGS`` with its strong-Wolfe
  line search, both memory 20); the line searches may evaluate the loss more
  than once per step, so records carry ``evaluations_per_second`` too.

A timed call is a whole run of ``iterations`` steps through the public API
(targets, the steps, the final loss terms), for both sides alike; the
records' ``images_per_second`` is style images advanced by one step per
second (``S * iterations / seconds``) and ``iterations_per_second`` is
``iterations / seconds``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import jax
import numpy as np

from benchmarks import IMPLS
from benchmarks import TORCH_LAYOUTS
from benchmarks import timing
from jaxviz import assets
from jaxviz import style
from jaxviz.models import registry
from jaxviz.validation import check_positive_int

LOG = logging.getLogger(__name__)

STYLE_METHODS = ("style_adam", "style_lbfgs")
STYLE_FILES = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg",
               "woman-with-hat-matisse.jpg")
CONTENT_FILE = "tubingen.jpg"
LOSS_TOLERANCE = 1e-3


def _images(meta, image_size: int, num_styles: int, seed: int):
  """The Tuebingen photo and the paintings when found, random images otherwise."""
  try:
    folder = assets.find_asset("style_images")
    files = [folder / STYLE_FILES[i % len(STYLE_FILES)] for i in range(num_styles)]
    loaded = style.load_style_images(folder / CONTENT_FILE, files, meta, image_size)
    return loaded.content, loaded.styles, "style_images (Tuebingen + paintings)"
  except (FileNotFoundError, ValueError, assets.AssetNotFoundError) as e:
    LOG.warning("No style images for the benchmark (%s); using random images.", e)
  rng = np.random.default_rng(seed)
  shape = (image_size * 3 // 4, image_size, meta.input_shape[-1])
  content = meta.preprocess(rng.uniform(0, 255, (1,) + shape))
  return content, meta.preprocess(rng.uniform(0, 255, (num_styles,) + shape)), "random"


class TorchStyleLoop:
  """The jaxviz style transfer loop written in PyTorch on a twin of the model.

  Features are read with forward hooks on the twin's named layers; the
  forward pass stops after the deepest one (nothing after it is computed,
  as XLA does not compute it on the jaxviz side).

  Args:
    twin: a PyTorch twin (``benchmarks.torch_models.from_flax``); the loop
      hooks its layers for good (one loop per twin).
    config: the :class:`jaxviz.style.StyleConfig` (layers, weights, Adam's
      step, L-BFGS memory and line-search length).
    meta: the model's metadata.
    layout: ``"nchw"`` or ``"channels_last"``.
  """

  class _Stop(Exception):
    pass

  def __init__(self, twin, config: style.StyleConfig, meta, layout: str):
    import torch  # pylint: disable=g-import-not-at-top

    self.torch, self.twin, self.config, self.layout = torch, twin, config, layout
    self.std = torch.tensor(meta.std, dtype=torch.float32).view(1, -1, 1, 1)
    self.mean = torch.tensor(meta.mean, dtype=torch.float32).view(1, -1, 1, 1)
    low, high = meta.input_bounds
    self.low = torch.tensor(low).view(1, -1, 1, 1)
    self.high = torch.tensor(high).view(1, -1, 1, 1)
    self.step = float(np.max(meta.pixel_budget(config.learning_rate)))
    order = twin.layer_names()
    self.last = max(config.layers, key=order.index)
    self.captured: dict[str, Any] = {}
    for name in config.layers:
      twin.layer(name).register_forward_hook(self._hook(name))

  def _hook(self, name: str):
    def hook(module, inputs, output):  # pylint: disable=unused-argument
      self.captured[name] = output
      if name == self.last:
        raise self._Stop()
    return hook

  def features(self, x):
    self.captured = {}
    try:
      self.twin(x)
    except self._Stop:
      pass
    return self.captured

  def to_torch(self, x_nhwc):
    from benchmarks import torch_models  # pylint: disable=g-import-not-at-top
    return torch_models.to_torch(x_nhwc, self.layout)

  @staticmethod
  def gram(f):
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)

  def targets(self, content, styles):
    with self.torch.no_grad():
      fc, fs = self.features(content), self.features(styles)
      return ({n: fc[n] for n, _ in self.config.content_layers},
              {n: self.gram(fs[n]) for n, _ in self.config.style_layers})

  def losses(self, x, targets, weights):
    """Per-image total loss [S] (same formulas as :func:`jaxviz.style.loss_terms`)."""
    torch = self.torch
    content_t, grams_t = targets
    feats = self.features(x)
    per_image = lambda d: d.pow(2).flatten(1).mean(1)
    content = sum(w * per_image(feats[n] - content_t[n]) for n, w in self.config.content_layers)
    style_ = sum(w * per_image(self.gram(feats[n]) - grams_t[n])
                 for n, w in self.config.style_layers)
    pixels = (x * self.std + self.mean) * 255.0
    tv = 0.5 * ((pixels[:, :, 1:] - pixels[:, :, :-1]).pow(2).sum((1, 2, 3))
                + (pixels[:, :, :, 1:] - pixels[:, :, :, :-1]).pow(2).sum((1, 2, 3)))
    w = torch.as_tensor(np.asarray(weights, np.float32))
    return w[0] * content + w[1] * style_ + w[2] * tv

  def run(self, content, styles, weights, iterations: int, optimizer: str) -> dict[str, Any]:
    """One whole run: targets, ``iterations`` steps of ``optimizer``, the final loss.

    Returns:
      ``{"images": [S, C, H, W], "loss": [S] final total loss, "evaluations": int}``.
    """
    torch = self.torch
    targets = self.targets(content, styles)
    start = content.repeat(styles.shape[0], 1, 1, 1)
    # The optimised tensor is contiguous (torch's L-BFGS flattens it with view()): NCHW, or
    # for channels_last NHWC, whose NCHW permutation is the model's channels-last input.
    if self.layout == "channels_last":
      param = start.permute(0, 2, 3, 1).contiguous()
      image = lambda p: p.permute(0, 3, 1, 2)
      low, high = self.low.view(1, 1, 1, -1), self.high.view(1, 1, 1, -1)
    else:
      param, image, low, high = start.clone(), lambda p: p, self.low, self.high
    param.requires_grad_(True)
    evaluations = [0]
    if optimizer == "adam":
      opt = torch.optim.Adam([param], lr=self.step)
      for _ in range(iterations):
        opt.zero_grad()
        self.losses(image(param), targets, weights).sum().backward()
        opt.step()
        with torch.no_grad():
          param.clamp_(low, high)
        evaluations[0] += 1
    else:
      # One step() call runs all iterations, reusing the line search's last evaluation as
      # optax does (step() per iteration would evaluate the start point again each time);
      # the tolerances are off so that it runs exactly ``iterations`` iterations.
      opt = torch.optim.LBFGS(
          [param], lr=1.0, max_iter=iterations,
          max_eval=iterations * (self.config.max_linesearch_steps + 1),
          tolerance_grad=-1.0, tolerance_change=0.0, history_size=self.config.lbfgs_memory,
          line_search_fn="strong_wolfe")

      def closure():
        opt.zero_grad()
        loss = self.losses(image(param), targets, weights).sum()
        loss.backward()
        evaluations[0] += 1
        return loss

      opt.step(closure)
    with torch.no_grad():
      final = image(param.clamp(low, high))
      return {"images": final, "loss": self.losses(final, targets, weights),
              "evaluations": evaluations[0]}


def _record(method, batch, impl, t: timing.Timing, iterations, evaluations, **extra):
  seconds = t.median_seconds
  rec = timing.record("mobilenet_v2", method, batch, impl, t,
                      iterations_per_second=iterations / seconds,
                      evaluations_per_second=evaluations / seconds, **extra)
  rec["images_per_second"] = batch * iterations / seconds  # style images advanced per second
  return rec


def run_style_benchmark(*, methods: Sequence[str] = STYLE_METHODS, image_size: int = 192,
                        num_styles: int = 4, iterations: int = 10, repeats: int = 3,
                        warmups: int = 2, impls: Sequence[str] = IMPLS,
                        preset: str = "mobilenet_v2", torch_threads: int | None = None,
                        seed: int = 0) -> tuple[list[dict], dict]:
  """Times style transfer in jaxviz and in PyTorch on MobileNetV2 (see the module docstring).

  Args:
    methods: from :data:`STYLE_METHODS`.
    image_size: the content image's longer side (the Tuebingen photo is 4:3).
    num_styles: S, styles per Adam run (L-BFGS runs one style).
    iterations: optimiser steps per timed call.
    repeats: timed calls per implementation (median reported).
    warmups: untimed calls first (jaxviz's first call compiles).
    impls: a subset of ``("jaxviz", "torch_nchw", "torch_channels_last")``.
    preset: the :mod:`jaxviz.style` preset whose layers and weights are used.
    torch_threads: ``torch.set_num_threads``; None: ``os.cpu_count()``.
    seed: for random images when the style images are missing.

  Returns:
    ``(records, info)``: records ``{"model", "method", "batch" (styles),
    "impl", "images_per_second", "iterations_per_second",
    "evaluations_per_second", "compile_seconds", ...}``, and ``{"loss_check":
    {impl: relative difference of the PyTorch loss at the content image},
    "images": where the images come from, "image_shape": [H, W]}``.

  Raises:
    ValueError: bad arguments (before any work).
    RuntimeError: a PyTorch loop does not reproduce the jaxviz loss.
  """
  bad = [m for m in methods if m not in STYLE_METHODS]
  if bad or not methods:
    raise ValueError(f"Unknown style method(s) {bad}; valid: {STYLE_METHODS}.")
  bad = [i for i in impls if i not in IMPLS]
  if bad:
    raise ValueError(f"Unknown impl(s) {bad}; valid: {IMPLS}.")
  for value, name in ((image_size, "image_size"), (num_styles, "num_styles"),
                      (iterations, "iterations"), (repeats, "repeats"), (warmups, "warmups")):
    check_positive_int(value, name)
  model, params, meta = registry.load_model("mobilenet_v2")
  content, styles, source = _images(meta, image_size, num_styles, seed)
  base = style.preset(preset, iterations=iterations, log_every=iterations)
  weights = [base.content_weight, base.style_weight, base.tv_weight]
  features = style.LayerFeatures(model, params, base.layers, content.shape)
  torch_impls = [i for i in impls if i in TORCH_LAYOUTS]
  twins = {}
  if torch_impls:
    import torch  # pylint: disable=g-import-not-at-top
    from benchmarks import torch_models  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(torch_threads or os.cpu_count() or 1)
    twins = {i: torch_models.from_flax(model, params, TORCH_LAYOUTS[i]) for i in torch_impls}

  loops = {impl: TorchStyleLoop(twins[impl], base, meta, TORCH_LAYOUTS[impl])
           for impl in torch_impls}
  records, info = [], {"loss_check": {}, "images": source,
                       "image_shape": list(content.shape[1:3])}
  for method in methods:
    config = base.replace(optimizer="adam" if method == "style_adam" else "lbfgs")
    s = styles if method == "style_adam" else styles[:1]
    key = jax.random.key(seed)
    fns, syncs = {}, {}
    if "jaxviz" in impls:
      fns["jaxviz"] = lambda c=config, s=s: style.style_transfer(
          features, content, s, meta, key, c, name=f"bench_{method}")
      syncs["jaxviz"] = lambda r: r
    if torch_impls:  # the jaxviz loss at the content image, which each PyTorch loop must match
      want = np.asarray(jax.jit(lambda c, s, config=config: style.loss_terms(
          features, config, meta, c, style.make_targets(features, config, c, s),
          np.asarray(weights, np.float32))["total"])(content, s))
    for impl in torch_impls:
      loop = loops[impl]
      c_t, s_t = loop.to_torch(content), loop.to_torch(s)
      with torch.no_grad():
        got = loop.losses(c_t.repeat(s_t.shape[0], 1, 1, 1), loop.targets(c_t, s_t), weights)
      diff = float(np.max(np.abs(got.numpy() - want) / np.abs(want)))
      info["loss_check"][impl] = diff
      if not diff < LOSS_TOLERANCE:
        raise RuntimeError(f"The PyTorch style loss ({impl}) differs from jaxviz's by {diff:.3g} "
                           "(relative); the benchmark would compare different problems.")
      fns[impl] = lambda loop=loop, c_t=c_t, s_t=s_t, c=config: loop.run(
          c_t, s_t, weights, c.iterations, c.optimizer)
      syncs[impl] = lambda out: out
    results = {}

    def counted(name):
      def run():
        results[name] = fns[name]()
        return results[name]
      return run

    timings = timing.time_interleaved({n: counted(n) for n in fns}, repeats=repeats,
                                      warmups=warmups, syncs=syncs)
    for impl, t in timings.items():
      out = results[impl]
      evaluations = (int(np.max(out.evaluations)) if impl == "jaxviz"
                     else out["evaluations"])
      final = (float(np.mean(out.loss_end["total"])) if impl == "jaxviz"
               else float(out["loss"].mean()))
      rec = _record(method, s.shape[0], impl, t, iterations, evaluations, final_loss=final,
                    image_shape=list(content.shape[1:3]), preset=preset)
      LOG.info("%s %s styles %d: %.2f iterations/s (%.2f evaluations/s), final loss %.4g",
               method, impl, s.shape[0], rec["iterations_per_second"],
               rec["evaluations_per_second"], final)
      records.append(rec)
  return records, info
