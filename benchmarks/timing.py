"""Benchmark of jaxviz against Captum/PyTorch on the same networks and weights.

The entry point is ``scripts/benchmark.py``; this module holds what it runs:

* :func:`time_interleaved`: for each competitor one untimed first call (for
  jaxviz: trace + compile + run) and extra warm-ups, then ``repeats`` rounds
  of one timed call of each competitor in turn; the median is the result and
  ``first - median`` the compile time;
* :func:`jaxviz_methods` / :func:`torch_methods`: the measured methods
  (:data:`METHODS`) as zero-argument callables on a fixed batch;
* :func:`run_model`: every method x batch x implementation of one model, as
  records ``{"model", "method", "batch", "impl", "images_per_second",
  "compile_seconds", ...}``;
* :func:`ig_peak_memory`: the peak resident memory of a chunked 256-step
  Integrated Gradients run, measured in a fresh subprocess;
* :func:`markdown_report`: the records as markdown tables with the machine.

The PyTorch side (``torch_nchw`` and ``torch_channels_last``) needs the
``bench`` extra (``pip install -e .[bench]``); without it only the jaxviz side
runs. The PyTorch models are built by :mod:`benchmarks.torch_models`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import json
import logging
import math
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Hashable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import GRAD_CAM_LAYERS
from benchmarks import IMPLS
from benchmarks import METHODS
from benchmarks import parse_batch_sizes
from benchmarks import parse_methods
from benchmarks import parse_models
from benchmarks import TORCH_LAYOUTS
from experiments import common
from experiments import malloc
from jaxviz import assets
from jaxviz import attribution
from jaxviz import data
from jaxviz import models
from jaxviz import validation
from jaxviz.models import meta as meta_lib
from jaxviz.models import registry
from jaxviz.models import small_cnn
from jaxviz.models import taps

LOG = logging.getLogger(__name__)

IG_STEPS = 32
IG_METHOD = "riemann_trapezoid"
TOP_K = 5
IG_MEMORY_METHOD = "ig256_peak_memory"
IG_MEMORY_TARGET_GIB = 4.0
INSTALL_HINT = "pip install -e .[bench]"
EQUIVALENCE_TOL = 1e-3
_RESULT_MARKER = "JAXVIZ_BENCH_RESULT "


# --------------------------------------------------------------------------
# Timing.


@dataclasses.dataclass(frozen=True)
class Timing:
  """Wall-clock seconds of one measured callable.

  Attributes:
    first_seconds: the first call (jaxviz: tracing + compilation + one run).
    seconds: the timed repeats, after the warm-ups.
  """

  first_seconds: float
  seconds: tuple[float, ...]

  @property
  def median_seconds(self) -> float:
    return statistics.median(self.seconds)

  @property
  def compile_seconds(self) -> float:
    """First call minus the median steady-state call (>= 0)."""
    return max(0.0, self.first_seconds - self.median_seconds)


def time_interleaved(fns: Mapping[Hashable, Callable[[], Any]], *, repeats: int,
                     warmups: int = 2,
                     syncs: Mapping[Hashable, Callable[[Any], Any]] | None = None,
                     min_sample_seconds: float = 0.0) -> dict[Hashable, Timing]:
  """Times several competitors round-robin, so that they share the machine's load.

  Each ``fns[name]`` gets ``warmups`` untimed calls (the first one's time is
  kept as its compile call); then ``repeats`` rounds each take one sample of
  every competitor, in turn. A load spike on this shared machine then slows
  every competitor of a round instead of biasing one side of the ratio. A
  sample is one call, or as many back-to-back calls as fill
  ``min_sample_seconds`` (calibrated on one more untimed call) divided into
  their total time, so that millisecond calls are not timed one by one.

  Args:
    fns: competitor name -> the work to time, with its inputs bound.
    repeats: samples of each competitor (the median is the result).
    warmups: untimed calls before them, >= 1; the first is the compile call.
    syncs: competitor name -> applied to each result before the clock stops
      (``jax.block_until_ready`` for asynchronously dispatched JAX results);
      missing names: :func:`jax.block_until_ready`.
    min_sample_seconds: shortest sample; 0 times single calls.

  Returns:
    Competitor name -> :class:`Timing` (seconds per call).
  """
  validation.check_positive_int(repeats, "repeats")
  validation.check_positive_int(warmups, "warmups")
  if not min_sample_seconds >= 0:
    raise ValueError(f"min_sample_seconds must be >= 0, got {min_sample_seconds!r}.")
  syncs = dict(syncs or {})

  def run(name: Hashable, calls: int = 1) -> float:
    sync = syncs.get(name, jax.block_until_ready)
    start = time.perf_counter()
    for _ in range(calls):
      sync(fns[name]())
    return (time.perf_counter() - start) / calls

  first, calls = {}, {}
  for name in fns:
    first[name] = run(name)
    for _ in range(warmups - 1):
      run(name)
    calls[name] = 1
    if min_sample_seconds > 0:
      calls[name] = max(1, min(1000, math.ceil(min_sample_seconds / max(run(name), 1e-9))))
  seconds = {name: [] for name in fns}
  for _ in range(repeats):
    for name in fns:
      seconds[name].append(run(name, calls[name]))
  return {name: Timing(first[name], tuple(seconds[name])) for name in fns}


# --------------------------------------------------------------------------
# Models and inputs.


@dataclasses.dataclass(frozen=True, eq=False)
class BenchModel:
  """A jaxviz model prepared for benchmarking.

  Attributes:
    name: ``"mobilenet_v2"`` or ``"small_cnn"``.
    model: the Flax module.
    params: its ``params``.
    meta: its :class:`~jaxviz.models.meta.ModelMeta`.
    f: the model function ``x -> logits`` (one object, so jaxviz's caches hit).
    layer_fn: layer function of :data:`GRAD_CAM_LAYERS` ``[name]``.
    images: float32 inputs [N, H, W, C] in the model's input space.
    weights: where the weights come from (for the report).
    inputs: where the images come from (for the report).
  """

  name: str
  model: Any
  params: Any
  meta: meta_lib.ModelMeta
  f: Callable[[jax.Array], jax.Array]
  layer_fn: taps.LayerFn
  images: np.ndarray
  weights: str
  inputs: str

  @property
  def layer(self) -> str:
    return GRAD_CAM_LAYERS[self.name]


def _real_images(folder: str, pattern: str, mode: str, meta: meta_lib.ModelMeta,
                 count: int) -> np.ndarray | None:
  try:
    directory = assets.find_asset(folder)
    images, _ = data.load_image_folder(directory, pattern=pattern, mode=mode)
  except (FileNotFoundError, ValueError) as e:
    LOG.warning("No real images for the benchmark (%s); using random inputs.", e)
    return None
  return data.prepare_for_model(images[:count], meta)


def load_bench_model(name: str, *, small_cnn_workdir: str | os.PathLike | None = None,
                     seed: int = 0, num_images: int = 8) -> BenchModel:
  """Loads a model and a few inputs for the benchmark.

  Args:
    name: ``"mobilenet_v2"`` (the shared ImageNet weights via
      :func:`jaxviz.models.registry.load_model`) or ``"small_cnn"``.
    small_cnn_workdir: an ``experiments.train`` workdir with a trained small
      CNN; ``None`` uses random parameters (``seed``) for the default
      :class:`~jaxviz.models.small_cnn.SmallCNN` on 28x28x1 inputs.
    seed: seed of the random small-CNN parameters and of random inputs.
    num_images: how many real images to load (inputs are tiled from them).

  Returns:
    A :class:`BenchModel`; its images are real (``sample_images_imagenet``,
    Fashion-MNIST samples in ``foolbox_samples``) when found under
    ``$JAXVIZ_DATA_DIR``, random otherwise.

  Raises:
    ValueError: unknown model name.
    AssetNotFoundError: the MobileNetV2 weights are missing.
  """
  parse_models([name])
  if name == "mobilenet_v2":
    model, params, meta = registry.load_model("mobilenet_v2")
    weights = "ImageNet MobileNetV2 1.0/224 (shared npz)"
    images = _real_images("sample_images_imagenet", None, "RGB", meta, num_images)
  else:
    if small_cnn_workdir:
      model, params, meta = registry.load_model("small_cnn", path=small_cnn_workdir)
      weights = f"trained ({small_cnn_workdir})"
    else:
      model = small_cnn.SmallCNN()
      params = models.random_params(model, (1, 28, 28, 1), seed=seed)
      meta = meta_lib.ModelMeta(name="small_cnn", input_shape=(28, 28, 1), mean=(0.0,),
                                std=(1.0,), class_names=data.FASHION_MNIST_CLASSES)
      weights = f"random (seed {seed})"
    mode = "L" if meta.input_shape[-1] == 1 else "RGB"
    images = _real_images("foolbox_samples", "fashionMNIST_*", mode, meta, num_images)
  if images is None:
    lo, hi = meta.input_range
    images = np.random.default_rng(seed).uniform(
        lo, hi, (num_images,) + tuple(meta.input_shape)).astype(np.float32)
    inputs = "random"
  else:
    inputs = "real images"
  variables = {"params": params}
  f = functools.partial(model.apply, variables)
  layer_fn = taps.flax_layer_fn(model, variables, GRAD_CAM_LAYERS[name],
                                input_shape=(1,) + tuple(meta.input_shape))
  return BenchModel(name, model, params, meta, f, layer_fn, images, weights, inputs)


def batch_inputs(images: np.ndarray, batch: int) -> np.ndarray:
  """``batch`` inputs [batch, H, W, C] tiled from ``images`` [N, H, W, C]."""
  batch = parse_batch_sizes([batch])[0]
  reps = -(-batch // images.shape[0])
  return np.ascontiguousarray(np.concatenate([images] * reps)[:batch])


@functools.partial(jax.jit, static_argnames=("model",))
def _forward(model, params, x):
  return model.apply({"params": params}, x)


# _top_k and _logits are separate from _forward so that the timed forward pays
# its own compilation.
@functools.partial(jax.jit, static_argnames=("model", "k"))
def _top_k(model, params, x, k):
  return jax.lax.top_k(model.apply({"params": params}, x), k)[1]


@functools.partial(jax.jit, static_argnames=("model",))
def _logits(model, params, x):
  return model.apply({"params": params}, x)


def top_targets(bm: BenchModel, x: np.ndarray, k: int = TOP_K) -> tuple[np.ndarray, np.ndarray]:
  """The top-1 [B] and top-k [B, k] logit indices of jaxviz's model on ``x``."""
  order = np.asarray(_top_k(bm.model, bm.params, jnp.asarray(x), k), np.int32)
  return order[:, 0].copy(), np.ascontiguousarray(order)


def ig_chunk_size(batch: int, chunk_images: int, steps: int = IG_STEPS) -> int:
  """IG path points per chunk so that a chunk holds about ``chunk_images`` images."""
  return max(1, min(steps, chunk_images // batch))


# --------------------------------------------------------------------------
# The measured methods.


def jaxviz_methods(bm: BenchModel, x: np.ndarray, targets: np.ndarray, top5: np.ndarray, *,
                   ig_chunk_images: int = 64) -> dict[str, Callable[[], Any]]:
  """The :data:`METHODS` in jaxviz on one batch, as zero-argument callables.

  ``saliency``/``guided_backprop``/``top5_saliency``:
  :func:`jaxviz.attribution.gradients.input_gradients` (``top5_saliency``:
  targets [B, 5], one forward pass and a VJP vmapped over the 5 one-hot
  cotangents); ``grad_cam``: :func:`jaxviz.attribution.cam.grad_cam`
  (ReLU'd, bilinearly upsampled); ``integrated_gradients``:
  :func:`jaxviz.attribution.integrated_gradients` with
  :data:`IG_STEPS` steps, a zero baseline and :func:`ig_chunk_size` points
  per chunk.
  """
  xj, tj, t5 = jnp.asarray(x), jnp.asarray(targets), jnp.asarray(top5)
  chunk = ig_chunk_size(x.shape[0], ig_chunk_images)
  return {
      "forward": lambda: _forward(bm.model, bm.params, xj),
      "saliency": lambda: attribution.input_gradients(bm.f, xj, tj),
      "guided_backprop": lambda: attribution.input_gradients(bm.f, xj, tj,
                                                           rule="guided_backprop"),
      "grad_cam": lambda: attribution.grad_cam(bm.layer_fn, xj, tj),
      "integrated_gradients": lambda: attribution.integrated_gradients(
          bm.f, xj, tj, steps=IG_STEPS, chunk_size=chunk, method=IG_METHOD),
      "top5_saliency": lambda: attribution.input_gradients(bm.f, xj, t5),
  }


def torch_methods(bm: BenchModel, torch_model, layout: str, x: np.ndarray, targets: np.ndarray,
                  top5: np.ndarray, *, ig_chunk_images: int = 64, with_captum: bool = True
                  ) -> dict[str, Callable[[], Any] | dict[str, Callable[[], Any]]]:
  """The :data:`METHODS` in Captum/PyTorch on one batch.

  ``saliency``: ``Saliency(abs=False)`` (the raw gradient, as jaxviz);
  ``guided_backprop``: ``GuidedBackprop``; ``grad_cam``:
  ``LayerGradCam(relu_attributions=True)`` upsampled with
  ``LayerAttribution.interpolate(..., "bilinear")``; ``integrated_gradients``:
  ``IntegratedGradients`` with the same steps, rule, zero baseline and
  ``internal_batch_size`` = the images per jaxviz chunk; ``top5_saliency``: a
  dict of two Captum ways (5 ``Saliency`` calls, or one call on the batch
  repeated 5 times with one target per copy), both timed, the faster kept.
  Without Captum only ``forward`` is returned.
  """
  import torch  # pylint: disable=g-import-not-at-top
  from benchmarks import torch_models  # pylint: disable=g-import-not-at-top

  xt = torch_models.to_torch(x, layout)
  batch = x.shape[0]

  def forward():
    with torch.inference_mode():
      return torch_model(xt)

  methods: dict[str, Any] = {"forward": forward}
  if not with_captum:
    return methods
  import captum.attr  # pylint: disable=g-import-not-at-top

  tt = torch.from_numpy(targets.astype(np.int64))
  t5 = torch.from_numpy(top5.astype(np.int64))
  saliency = captum.attr.Saliency(torch_model)
  guided = captum.attr.GuidedBackprop(torch_model)
  gradcam = captum.attr.LayerGradCam(torch_model, torch_model.layer(bm.layer))
  ig = captum.attr.IntegratedGradients(torch_model)
  baseline = torch.zeros_like(xt)
  size = tuple(x.shape[1:3])
  internal = ig_chunk_size(batch, ig_chunk_images) * batch

  def grad_cam():
    maps = gradcam.attribute(xt, target=tt, relu_attributions=True)
    return captum.attr.LayerAttribution.interpolate(maps, size, "bilinear")

  def five_calls():
    return torch.stack([saliency.attribute(xt, target=t5[:, k], abs=False)
                        for k in range(t5.shape[1])], dim=1)

  def expanded_batch():
    k = t5.shape[1]
    grads = saliency.attribute(xt.repeat_interleave(k, dim=0), target=t5.reshape(-1),
                               abs=False)
    return grads.reshape((batch, k) + tuple(grads.shape[1:]))

  methods.update({
      "saliency": lambda: saliency.attribute(xt, target=tt, abs=False),
      "guided_backprop": lambda: guided.attribute(xt, target=tt),
      "grad_cam": grad_cam,
      "integrated_gradients": lambda: ig.attribute(
          xt, baselines=baseline, target=tt, n_steps=IG_STEPS, method=IG_METHOD,
          internal_batch_size=internal),
      "top5_saliency": {"captum_5_calls": five_calls, "captum_expanded_batch": expanded_batch},
  })
  return methods


# --------------------------------------------------------------------------
# Running the suite.


def torch_status() -> tuple[bool, bool, str | None]:
  """``(torch importable, captum importable, message naming the extra when not)``."""
  try:
    importlib.import_module("torch")
  except ImportError as e:
    return False, False, (f"PyTorch is not installed ({e}); only the jaxviz side runs. "
                          f"Install the benchmark extra: {INSTALL_HINT}")
  try:
    importlib.import_module("captum.attr")
  except ImportError as e:
    return True, False, (f"Captum is not installed ({e}); PyTorch runs only 'forward'. "
                         f"Install the benchmark extra: {INSTALL_HINT}")
  return True, True, None


def record(model: str, method: str, batch: int, impl: str, timing: Timing,
           **extra: Any) -> dict[str, Any]:
  """One benchmark record: images/s of ``impl`` on ``method`` at ``batch``, plus ``extra``."""
  return {
      "model": model, "method": method, "batch": batch, "impl": impl,
      "images_per_second": batch / timing.median_seconds,
      "compile_seconds": timing.compile_seconds if impl == "jaxviz" else None,
      "median_seconds": timing.median_seconds,
      "first_call_seconds": timing.first_seconds,
      "repeat_seconds": list(timing.seconds),
      **extra,
  }


def checked_twin(bm: BenchModel):
  """The NCHW PyTorch twin of ``bm`` (same weights), checked to reproduce the jaxviz logits.

  Raises:
    RuntimeError: the twin does not reproduce the logits.
  """
  from benchmarks import torch_models  # pylint: disable=g-import-not-at-top
  twin = torch_models.from_flax(bm.model, bm.params, "nchw")
  diff = torch_models.check_equivalence(bm.f, twin, bm.images[:4], "nchw")
  LOG.info("%s: the PyTorch twin reproduces the jaxviz logits (max abs diff %.2e).", bm.name,
           diff)
  return twin


def step_records(model: str, method: str, batch: int, fns: Mapping[str, Callable[[], Any]], *,
                 steps: int, rate_key: str, repeats: int, warmups: int,
                 min_sample_seconds: float, **extra: Any) -> list[dict[str, Any]]:
  """Times iterative loops (:func:`time_interleaved`) and records their image-steps/second.

  Each record is :func:`record`'s with ``rate_key`` = ``batch * steps /
  median_seconds`` and ``steps`` added (plus ``extra``); every output but
  jaxviz's is a host value already (no sync needed).
  """
  syncs = {impl: (lambda out: out) for impl in fns if impl != "jaxviz"}
  timings = time_interleaved(fns, repeats=repeats, warmups=warmups, syncs=syncs,
                             min_sample_seconds=min_sample_seconds)
  records = []
  for impl, t in timings.items():
    records.append(record(model, method, batch, impl, t, steps=steps,
                          **{rate_key: batch * steps / t.median_seconds}, **extra))
    LOG.info("%s %s batch %d %s: %.1f image-steps/s", model, method, batch, impl,
             records[-1][rate_key])
  return records


def equivalence(bm: BenchModel, twins: Mapping[str, Any], tol: float = EQUIVALENCE_TOL
                ) -> dict[str, float]:
  """Max abs logit difference of each torch twin vs jaxviz on up to 4 inputs.

  Raises:
    RuntimeError: a twin differs by ``tol`` or more (the benchmark must abort).
  """
  if not twins:
    return {}
  from benchmarks import torch_models  # pylint: disable=g-import-not-at-top
  x = bm.images[:4]
  fwd = lambda x: _logits(bm.model, bm.params, jnp.asarray(x))
  return {impl: torch_models.check_equivalence(fwd, twin, x, TORCH_LAYOUTS[impl], tol)
          for impl, twin in twins.items()}


def run_model(bm: BenchModel, methods: Sequence[str], batch_sizes: Sequence[int], *,
              repeats: int = 5, warmups: int = 2, impls: Sequence[str] = IMPLS,
              with_captum: bool = True, ig_chunk_images: int = 64,
              torch_threads: int | None = None,
              min_sample_seconds: float = 0.2) -> tuple[list[dict], dict]:
  """Times every method x batch x implementation of one model.

  The implementations of each (method, batch) are timed round-robin (see
  :func:`time_interleaved`) on the same inputs and the same targets (each image's top-1 / top-5 classes,
  computed once beforehand and not timed). The torch twins are first checked
  to reproduce the jaxviz logits.

  Args:
    bm: the model, from :func:`load_bench_model`.
    methods: names from :data:`METHODS`.
    batch_sizes: positive ints.
    repeats: timed calls per measurement (the median is reported).
    warmups: untimed calls before them (the first is jaxviz's compile call).
    impls: a subset of :data:`IMPLS`.
    with_captum: time the attribution methods on the torch side too (needs
      Captum); without it torch runs ``forward`` only.
    ig_chunk_images: images per Integrated Gradients chunk (both sides).
    min_sample_seconds: shortest timed sample (see :func:`time_interleaved`).
    torch_threads: ``torch.set_num_threads`` value; ``None``: ``os.cpu_count()``.
      (On an oversubscribed machine PyTorch's OpenMP threads wait on each
      other at every op, and fewer threads can be many times faster.)

  Returns:
    ``(records, info)``: one record per measurement (see the module
    docstring; torch ``top5_saliency`` records also name the Captum
    ``variant`` kept and every variant's images/s) and ``{"equivalence":
    {impl: max abs logit difference}}``.

  Raises:
    ValueError: bad methods, batch sizes, impls or counts (before any work).
    RuntimeError: a torch twin does not reproduce the jaxviz logits.
  """
  methods = parse_methods(methods)
  batch_sizes = parse_batch_sizes(batch_sizes)
  validation.check_positive_int(repeats, "repeats")
  validation.check_positive_int(warmups, "warmups")
  validation.check_positive_int(ig_chunk_images, "ig_chunk_images")
  if torch_threads is not None:
    validation.check_positive_int(torch_threads, "torch_threads")
  bad = [i for i in impls if i not in IMPLS]
  if bad:
    raise ValueError(f"Unknown impl(s) {bad}; valid: {IMPLS}.")
  twins = {}
  if any(i in TORCH_LAYOUTS for i in impls):
    import torch  # pylint: disable=g-import-not-at-top
    from benchmarks import torch_models  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(torch_threads or os.cpu_count() or 1)
    twins = {i: torch_models.from_flax(bm.model, bm.params, TORCH_LAYOUTS[i])
             for i in impls if i in TORCH_LAYOUTS}
  info = {"equivalence": equivalence(bm, twins)}
  for impl, diff in info["equivalence"].items():
    LOG.info("%s: %s reproduces the jaxviz logits (max abs diff %.2e).", bm.name, impl, diff)

  records = []
  for batch in batch_sizes:
    x = batch_inputs(bm.images, batch)
    targets, top5 = top_targets(bm, x)
    per_impl = {}
    for impl in impls:
      if impl == "jaxviz":
        per_impl[impl] = jaxviz_methods(bm, x, targets, top5, ig_chunk_images=ig_chunk_images)
      else:
        per_impl[impl] = torch_methods(bm, twins[impl], TORCH_LAYOUTS[impl], x, targets, top5,
                                       ig_chunk_images=ig_chunk_images, with_captum=with_captum)
    for method in methods:
      # Every competitor of this (method, batch), Captum variants included,
      # keyed (impl, variant or None), timed round-robin.
      fns, syncs = {}, {}
      for impl in impls:
        fn = per_impl[impl].get(method)
        variants = fn if isinstance(fn, dict) else ({} if fn is None else {None: fn})
        for variant, g in variants.items():
          fns[impl, variant] = g
          syncs[impl, variant] = jax.block_until_ready if impl == "jaxviz" else (lambda out: out)
      timings = time_interleaved(fns, repeats=repeats, warmups=warmups, syncs=syncs,
                                 min_sample_seconds=min_sample_seconds)
      for impl in impls:
        mine = {variant: t for (name, variant), t in timings.items() if name == impl}
        if not mine:
          continue
        if None in mine:
          rec = record(bm.name, method, batch, impl, mine[None])
        else:
          best = min(mine, key=lambda v: mine[v].median_seconds)
          rec = record(bm.name, method, batch, impl, mine[best], variant=best,
                        variants_images_per_second={v: batch / t.median_seconds
                                                    for v, t in mine.items()})
        LOG.info("%s %s batch %d %s: %.2f images/s%s", bm.name, method, batch, impl,
                 rec["images_per_second"],
                 f" (compile {rec['compile_seconds']:.2f} s)" if impl == "jaxviz" else "")
        records.append(rec)
  return records, info


# --------------------------------------------------------------------------
# Peak memory of long Integrated Gradients runs.


def peak_rss_gib() -> float:
  """This process's resident-set high-water mark (VmHWM) in GiB."""
  try:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 2**20  # kB
  except OSError:
    pass
  kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return kib / (2**30 if sys.platform == "darwin" else 2**20)  # bytes on macOS


def ig_memory_child(model: str, batch: int, steps: int, chunk_size: int,
                    small_cnn_workdir: str | None = None,
                    tune_malloc: bool = False) -> dict[str, Any]:
  """Runs one chunked IG in this process; returns its time and peak memory.

  Meant to run in a fresh subprocess (see :func:`ig_peak_memory`) so that the
  high-water mark is IG's alone; ``tune_malloc`` applies
  :func:`experiments.malloc.tune_glibc_malloc` first.
  """
  if tune_malloc:
    malloc.tune_glibc_malloc()
  bm = load_bench_model(model, small_cnn_workdir=small_cnn_workdir)
  x = jnp.asarray(batch_inputs(bm.images, batch))
  targets, _ = top_targets(bm, np.asarray(x), k=1)
  before = peak_rss_gib()
  start = time.perf_counter()
  jax.block_until_ready(attribution.integrated_gradients(
      bm.f, x, jnp.asarray(targets), steps=steps, chunk_size=chunk_size, method=IG_METHOD))
  seconds = time.perf_counter() - start
  return {"peak_memory_gib": peak_rss_gib(), "peak_before_ig_gib": before, "seconds": seconds,
          "malloc": malloc.malloc_description()}


def ig_peak_memory(model: str = "mobilenet_v2", *, batch: int = 8, steps: int = 256,
                   chunk_size: int = 8, small_cnn_workdir: str | None = None,
                   tune_malloc: bool = False, timeout: float | None = None
                   ) -> dict[str, Any]:
  """Peak process memory of jaxviz's chunked IG, measured in a fresh subprocess.

  The child loads the model, runs ``integrated_gradients`` (``steps`` path
  points, ``chunk_size`` at a time) on ``batch`` images and reports its
  ``VmHWM`` (the whole process: Python, JAX, the weights and IG), with
  glibc's malloc tuned first (:mod:`experiments.malloc`) when ``tune_malloc``.

  Returns:
    A record ``{"model", "method": "ig256_peak_memory" (for 256 steps, else
    "ig<steps>_peak_memory"), "batch", "impl": "jaxviz", "peak_memory_gib",
    "peak_before_ig_gib", "seconds" (IG wall time including compilation),
    "steps", "chunk_size", "target_gib", "within_target", "malloc" (the
    child's allocator, see :func:`experiments.malloc.malloc_description`),
    "images_per_second": None, "compile_seconds": None}``.

  Raises:
    ValueError: bad arguments.
    RuntimeError: the subprocess failed (its output is in the message).
  """
  parse_models([model])
  for value, name in ((batch, "batch"), (steps, "steps"), (chunk_size, "chunk_size")):
    validation.check_positive_int(value, name)
  args = {"model": model, "batch": int(batch), "steps": int(steps),
          "chunk_size": int(chunk_size), "small_cnn_workdir": small_cnn_workdir,
          "tune_malloc": bool(tune_malloc)}
  code = ("import json, sys\n"
          "from benchmarks import timing\n"
          f"print({_RESULT_MARKER!r} + json.dumps(timing.ig_memory_child(**json.loads(sys.argv[1]))))")
  env = dict(os.environ)
  root = str(pathlib.Path(__file__).resolve().parents[1])  # the repository
  env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
  proc = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True,
                        text=True, env=env, timeout=timeout, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith(_RESULT_MARKER)]
  if proc.returncode != 0 or not lines:
    raise RuntimeError(f"The IG memory subprocess failed (exit {proc.returncode}):\n"
                       f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
  result = json.loads(lines[-1][len(_RESULT_MARKER):])
  return {
      "model": model,
      "method": IG_MEMORY_METHOD if steps == 256 else f"ig{steps}_peak_memory",
      "batch": int(batch), "impl": "jaxviz", "images_per_second": None,
      "compile_seconds": None, **result, "steps": int(steps), "chunk_size": int(chunk_size),
      "target_gib": IG_MEMORY_TARGET_GIB,
      "within_target": result["peak_memory_gib"] < IG_MEMORY_TARGET_GIB,
  }


# --------------------------------------------------------------------------
# Reporting.


def _version(package: str) -> str:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return "not installed"


def machine_info() -> dict[str, Any]:
  """CPU, cores, load and library versions, for the report."""
  info = {
      "cpu": common.cpu_model(),
      "cores": os.cpu_count(),
      "platform": platform.platform(),
      "python": platform.python_version(),
      "jax_backend": jax.default_backend(),
      "xla_flags": os.environ.get("XLA_FLAGS", "(default)"),
      "malloc": malloc.malloc_description(),
  }
  for package in ("jax", "jaxlib", "flax", "numpy", "torch", "captum"):
    info[package] = _version(package)
  if hasattr(os, "getloadavg"):
    info["load_average"] = [round(v, 2) for v in os.getloadavg()]
  return info


def _fmt(value: float | None) -> str:
  if value is None:
    return "–"
  return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def ratio_table(records: Sequence[Mapping[str, Any]], value_key: str, impls: Sequence[str],
                method_label: str = "method", digits: int = 3) -> str:
  """Records holding ``value_key`` as a markdown table: one column per implementation.

  Rows are (model, method, batch); the last column is jaxviz's value over the
  best other implementation's (> 1: jaxviz is faster).
  """
  rows: dict[tuple[str, str, int], dict[str, float]] = {}
  for r in records:
    if r.get(value_key) is not None:
      rows.setdefault((r["model"], r["method"], r["batch"]), {})[r["impl"]] = r[value_key]
  lines = [f"| model | {method_label} | batch | " + " | ".join(impls) + " | jaxviz / best other |",
           "|---|---|---:|" + "---:|" * len(impls) + "---:|"]
  for (model, method, batch), values in rows.items():
    others = [v for k, v in values.items() if k != "jaxviz"]
    ratio = (f"{values['jaxviz'] / max(others):.2f}x" if others and "jaxviz" in values else "–")
    cells = " | ".join(f"{values[i]:.{digits}g}" if i in values else "–" for i in impls)
    lines.append(f"| {model} | {method} | {batch} | {cells} | {ratio} |")
  return "\n".join(lines) + "\n"


def markdown_report(records: Sequence[Mapping[str, Any]], machine: Mapping[str, Any], *,
                    notes: Sequence[str] = (), settings: Mapping[str, Any] | None = None) -> str:
  """The benchmark as markdown: one table per model, then peak memory and notes.

  Rows are method x batch; columns the images/s of each implementation, the
  jaxviz / best-torch ratio (> 1: jaxviz is faster), jaxviz's compile time
  and, for ``top5_saliency``, the Captum variant kept.
  """
  lines = ["# jaxviz vs Captum/PyTorch benchmark", "",
           "## Machine", ""]
  lines += [f"- {key}: {value}" for key, value in machine.items()]
  if settings:
    lines += ["", "## Settings", ""] + [f"- {k}: {v}" for k, v in settings.items()]
  timed = [r for r in records if r.get("images_per_second") is not None]
  for model in dict.fromkeys(r["model"] for r in timed):
    lines += ["", f"## {model} (images/second, higher is better)", "",
              "| method | batch | jaxviz | torch_nchw | torch_channels_last | "
              "jaxviz / best torch | jaxviz compile (s) | Captum variant |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    rows = {}
    for r in timed:
      if r["model"] == model:
        rows.setdefault((r["method"], r["batch"]), {})[r["impl"]] = r
    order = {m: i for i, m in enumerate(METHODS)}
    for (method, batch) in sorted(rows, key=lambda k: (order.get(k[0], 99), k[1])):
      row = rows[(method, batch)]
      ips = {impl: row[impl]["images_per_second"] if impl in row else None for impl in IMPLS}
      torch_ips = [v for k, v in ips.items() if k != "jaxviz" and v is not None]
      ratio = (ips["jaxviz"] / max(torch_ips)) if torch_ips and ips["jaxviz"] else None
      compile_s = row["jaxviz"]["compile_seconds"] if "jaxviz" in row else None
      variants = sorted({row[i]["variant"] for i in row if "variant" in row[i]})
      lines.append(f"| {method} | {batch} | {_fmt(ips['jaxviz'])} | {_fmt(ips['torch_nchw'])} | "
                   f"{_fmt(ips['torch_channels_last'])} | "
                   f"{'–' if ratio is None else f'{ratio:.2f}x'} | {_fmt(compile_s)} | "
                   f"{', '.join(variants) or '–'} |")
  memory = [r for r in records if "peak_memory_gib" in r]
  if memory:
    lines += ["", "## Peak memory of chunked Integrated Gradients (jaxviz)", ""]
    for r in memory:
      lines.append(
          f"- {r['model']}, {r['steps']} steps, batch {r['batch']}, chunk_size "
          f"{r['chunk_size']}: peak RSS {r['peak_memory_gib']:.2f} GiB (process high-water "
          f"mark, {r['peak_before_ig_gib']:.2f} GiB before IG; target < {r['target_gib']:g} GiB: "
          f"{'met' if r['within_target'] else 'NOT met'}); {r['seconds']:.1f} s including "
          "compilation.")
  if notes:
    lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
  return "\n".join(lines) + "\n"
