"""PGD throughput: jaxviz against torchattacks and Foolbox on PyTorch, same weights.

Each model (MobileNetV2 with the shared ImageNet weights, the small CNN) is
attacked with L-inf PGD (``steps`` steps, random start, epsilon 8/255 and
step 2/255 in pixel units) on the same batch of inputs with the same labels
(the jaxviz model's top-1 classes) by:

* ``jaxviz``: :func:`jaxviz.robustness.pgd` (jitted, one compile; its first
  call is reported as ``compile_seconds``);
* ``torchattacks``: ``torchattacks.PGD`` on the PyTorch twin
  (:mod:`benchmarks.torch_models`, the very same weights) with
  ``set_normalization_used(mean, std)``, so it attacks pixels in [0, 1] and
  epsilon means the same as in jaxviz;
* ``foolbox``: ``foolbox.attacks.LinfPGD`` on ``foolbox.PyTorchModel(twin,
  bounds=(0, 1), preprocessing=mean/std)``, again in pixel units.

The twins are first checked to reproduce the jaxviz logits. Timing is
:func:`benchmarks.timing.time_interleaved` (the implementations take turns
sample by sample). Records are those of :mod:`benchmarks.timing` (``model``,
``method`` = ``"pgd<steps>"``, ``batch``, ``impl``, ``images_per_second``:
attacked images per second, ``compile_seconds``, ...) plus
``pgd_steps_per_second`` (image-steps per second: ``batch * steps / time``).

Entry point: :func:`pgd_benchmark`; :func:`pgd_markdown` renders its records.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any, Callable, Sequence

import jax
import numpy as np

from benchmarks import parse_batch_sizes
from benchmarks import parse_models
from benchmarks import timing
from jaxviz import robustness
from jaxviz import validation

LOG = logging.getLogger(__name__)

PGD_IMPLS = ("jaxviz", "torchattacks", "foolbox")
EPSILON = 8 / 255
STEP_SIZE = 2 / 255


def _available(module: str) -> bool:
  try:
    importlib.import_module(module)
  except ImportError:
    return False
  return True


def _torch_attacks(bm: timing.BenchModel, twin, x: np.ndarray, labels: np.ndarray, steps: int,
                   impls: Sequence[str]) -> dict[str, Callable[[], Any]]:
  import torch  # pylint: disable=g-import-not-at-top

  pixels = torch.from_numpy(np.ascontiguousarray(bm.meta.deprocess(x).transpose(0, 3, 1, 2)))
  targets = torch.from_numpy(labels.astype(np.int64))
  fns = {}
  if "torchattacks" in impls:
    import torchattacks  # pylint: disable=g-import-not-at-top
    attack = torchattacks.PGD(twin, eps=EPSILON, alpha=STEP_SIZE, steps=steps, random_start=True)
    attack.set_normalization_used(mean=list(bm.meta.mean), std=list(bm.meta.std))
    fns["torchattacks"] = lambda: attack(pixels, targets)
  if "foolbox" in impls:
    import foolbox  # pylint: disable=g-import-not-at-top
    fmodel = foolbox.PyTorchModel(twin, bounds=(0, 1), preprocessing=dict(
        mean=list(bm.meta.mean), std=list(bm.meta.std), axis=-3))
    linf_pgd = foolbox.attacks.LinfPGD(abs_stepsize=STEP_SIZE, steps=steps, random_start=True)
    fns["foolbox"] = lambda: linf_pgd(fmodel, pixels, targets, epsilons=EPSILON)[1]
  return fns


def pgd_benchmark(models: Sequence[str] = ("small_cnn", "mobilenet_v2"),
                  batch_sizes: Sequence[int] = (8,), *, steps: int = 10, repeats: int = 3,
                  warmups: int = 2, min_sample_seconds: float = 0.2,
                  impls: Sequence[str] = PGD_IMPLS, torch_threads: int | None = None,
                  small_cnn_workdir: str | None = None) -> list[dict[str, Any]]:
  """Times L-inf PGD of jaxviz, torchattacks and Foolbox on the same models and inputs.

  Args:
    models: from :data:`benchmarks.MODELS`.
    batch_sizes: images per attack call.
    steps: PGD steps.
    repeats: timed samples (median reported).
    warmups: untimed calls first (jaxviz's first one compiles).
    min_sample_seconds: shortest timed sample (see ``time_interleaved``).
    impls: from :data:`PGD_IMPLS`; those not installed are skipped with a
      warning (torch is needed for all but ``jaxviz``).
    torch_threads: ``torch.set_num_threads``; default ``os.cpu_count()``.
    small_cnn_workdir: a trained small CNN; default random parameters.

  Returns:
    Records (see the module doc).

  Raises:
    ValueError: unknown model or implementation, bad counts.
    RuntimeError: a PyTorch twin does not reproduce the jaxviz logits.
  """
  models = parse_models(models)
  batch_sizes = parse_batch_sizes(batch_sizes)
  steps = validation.check_positive_int(steps, "steps")
  unknown = [i for i in impls if i not in PGD_IMPLS]
  if unknown:
    raise ValueError(f"Unknown PGD implementation(s) {unknown}; valid: {PGD_IMPLS}.")
  others = [i for i in impls if i != "jaxviz"]
  missing = [i for i in others if not (_available("torch") and _available(i))]
  for impl in missing:
    LOG.warning("Skipping %s: not installed (pip install -e .[bench]).", impl)
  others = [i for i in others if i not in missing]
  if others:
    import torch  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(torch_threads or os.cpu_count() or 1)
  records = []
  for name in models:
    bm = timing.load_bench_model(name, small_cnn_workdir=small_cnn_workdir)
    twin = timing.checked_twin(bm) if others else None
    for batch in batch_sizes:
      x = timing.batch_inputs(bm.images, batch)
      labels, _ = timing.top_targets(bm, x, k=1)
      key = jax.random.key(0)
      fns = {"jaxviz": lambda x=x, labels=labels: robustness.pgd(
          bm.f, x, labels, meta=bm.meta, epsilon=EPSILON, steps=steps, step_size=STEP_SIZE,
          key=key).adversarial} if "jaxviz" in impls else {}
      if twin is not None:
        fns.update(_torch_attacks(bm, twin, x, labels, steps, others))
      records += timing.step_records(
          name, f"pgd{steps}", batch, fns, steps=steps, rate_key="pgd_steps_per_second",
          repeats=repeats, warmups=warmups, min_sample_seconds=min_sample_seconds,
          epsilon=EPSILON, step_size=STEP_SIZE)
  return records


def pgd_markdown(records: Sequence[dict[str, Any]]) -> str:
  """The PGD records as a markdown table (image-steps per second, higher is better)."""
  return timing.ratio_table(records, "pgd_steps_per_second", PGD_IMPLS, "attack")
