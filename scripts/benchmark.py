r"""Benchmark jaxviz against Captum/PyTorch on the same networks and weights.

  python scripts/benchmark.py --output_dir=DIR [--methods=forward,saliency] \
      [--batch_sizes=1,8,32] [--repeats=5] [--models=mobilenet_v2,small_cnn] \
      [--suites=attribution,synthesis,pgd,style]

Suites: ``attribution`` (the methods below, against Captum), ``synthesis``
(class-model gradient ascent, pixel and Fourier loops, against the same loop
in PyTorch), ``pgd`` (L-inf PGD-10 against torchattacks and Foolbox on
PyTorch) and ``style`` (style transfer on MobileNetV2 with Adam and L-BFGS,
against the same loop in PyTorch); every peer runs the same weights.

Builds MobileNetV2 (the shared ImageNet weights) and the small CNN (random
parameters, or trained ones with --small_cnn_workdir) in jaxviz and, with the
same weights, in PyTorch (NCHW and channels_last), checks that the PyTorch
models reproduce the jaxviz logits (aborts otherwise), and measures images/s
of forward, saliency, guided backprop, Grad-CAM, Integrated Gradients (32
steps) and top-5 saliency at each batch size: the median of --repeats timed
samples after --warmups untimed calls (a sample: enough back-to-back calls to
fill --min_sample_seconds), the implementations taking turns sample by sample
(so load spikes hit all of them); jaxviz's compile time (first call
minus median) separately. With MobileNetV2 it also measures the peak memory of a
256-step chunked IG on 8 images in a fresh subprocess.

Writes DIR/benchmark.json (a list of records {"model", "method", "batch",
"impl", "images_per_second", "compile_seconds", ...}) and DIR/benchmark.md.
Without torch/captum only the jaxviz side runs (install: pip install -e .[bench]).
--tune_malloc runs both sides with glibc's malloc tuned (see experiments/malloc.py);
the report's machine section names the allocator.
Timings on a shared machine are noisy: compare medians, and rerun.
"""

from __future__ import annotations

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
from absl import logging

import benchmarks as bench
from jaxviz import workdir as wd

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where benchmark.json/.md are written.")
_METHODS = flags.DEFINE_list("methods", list(bench.METHODS),
                             f"Methods to time, from {', '.join(bench.METHODS)}.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "8", "32"], "Batch sizes (positive ints).")
SUITES = ("attribution", "synthesis", "pgd", "style")
_SUITES = flags.DEFINE_list("suites", list(SUITES), f"What to time, from {', '.join(SUITES)}.")
_MODELS = flags.DEFINE_list("models", list(bench.MODELS),
                            f"Models, from {', '.join(bench.MODELS)}.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed samples per measurement (median reported).",
                                lower_bound=1)
_MIN_SAMPLE = flags.DEFINE_float(
    "min_sample_seconds", 0.2, "Shortest timed sample: calls faster than this are repeated "
    "back to back within one sample and their mean time taken (0: single calls).")
_WARMUPS = flags.DEFINE_integer("warmups", 2, "Untimed calls before them (the first compiles).",
                                lower_bound=1)
_IG_CHUNK_IMAGES = flags.DEFINE_integer(
    "ig_chunk_images", 64, "Images per Integrated Gradients chunk on both sides: jaxviz "
    "chunk_size = max(1, this // batch) path points, Captum internal_batch_size = chunk_size "
    "* batch.", lower_bound=1)
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads", 0, "torch.set_num_threads value; 0 (default): os.cpu_count(). On an "
    "oversubscribed machine PyTorch's OpenMP threads wait on each other at every op; 1 can "
    "then be much faster.", lower_bound=0)
_TUNE_MALLOC = flags.DEFINE_bool(
    "tune_malloc", False, "Tune glibc's malloc to keep and reuse freed memory "
    "(experiments.malloc.tune_glibc_malloc) before anything runs; one process, so both sides "
    "get it.")
_TORCH = flags.DEFINE_bool("torch", True, "Also time Captum/PyTorch (needs the bench extra).")
_IG_MEMORY = flags.DEFINE_bool("ig_memory", True, "Measure the peak memory of a 256-step IG "
                               "on 8 MobileNetV2 images (when mobilenet_v2 is benchmarked).")
_IG_MEMORY_CHUNK = flags.DEFINE_integer("ig_memory_chunk_size", 8,
                                        "IG path points per chunk for the memory measurement.",
                                        lower_bound=1)
_SMALL_CNN_WORKDIR = flags.DEFINE_string(
    "small_cnn_workdir", None, "Workdir of an experiments.train run; default: random params.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Shared data folder (default: "
                                "$JAXVIZ_DATA_DIR).")
flags.mark_flag_as_required("output_dir")


def _validate_with(parse, flag_name: str) -> None:
  """Registers ``parse`` (raising ValueError with the valid values) as the flag's validator."""

  def check(value) -> bool:
    try:
      parse(value)
    except ValueError as e:
      raise flags.ValidationError(str(e)) from e
    return True

  flags.register_validator(flag_name, check)


_validate_with(bench.parse_methods, "methods")
_validate_with(bench.parse_batch_sizes, "batch_sizes")
_validate_with(bench.parse_models, "models")


def _parse_suites(values) -> tuple[str, ...]:
  unknown = [v for v in values if v not in SUITES]
  if unknown or not values:
    raise ValueError(f"Unknown or no suite(s) {unknown}; valid suites: {', '.join(SUITES)}.")
  return tuple(dict.fromkeys(values))


_validate_with(_parse_suites, "suites")


def _torch_threads() -> int:
  return _TORCH_THREADS.value or os.cpu_count() or 1


def _notes(impls, with_captum, torch_message, ig_chunk_images, equivalence, bench_models,
           suites):
  """The report's notes: how it was timed, what each suite measures, the twins' fidelity."""
  notes = [
      "Timings on this shared machine are noisy (see the load average above): each number "
      f"is the median of {_REPEATS.value} timed samples after {_WARMUPS.value} untimed "
      f"warm-up call(s) (a sample: as many back-to-back calls as fill "
      f"{_MIN_SAMPLE.value:g} s, at least one), the implementations (and Captum variants) of a method taking "
      "turns sample by sample so that load spikes hit all of them; compare ratios rather than "
      "absolute numbers and rerun before drawing conclusions.",
      "jaxviz runs with default XLA settings; its compile time (first call minus median) is "
      "reported separately and excluded from images/s. PyTorch uses "
      f"torch.set_num_threads({_torch_threads()})"
      + ("" if _torch_threads() == os.cpu_count() else
         f" (--torch_threads; the machine has {os.cpu_count()} cores)") + ".",
  ]
  if "attribution" in suites:
    notes += _attribution_notes(ig_chunk_images, bench_models)
  if "synthesis" in suites:
    notes.append("synthesis_*: 10 ascent steps of a class logit per image from a fresh "
                 "initialisation, the same loop written in PyTorch on the twin model "
                 "(benchmarks/synthesis.py says what each step does).")
  if "pgd" in suites:
    notes.append("pgd10: L-inf PGD, 10 steps, random start, epsilon 8/255 and step 2/255 in "
                 "pixel units; torchattacks.PGD and foolbox LinfPGD attack the PyTorch twin "
                 "(the same weights) with the model's normalisation, so epsilon means the same.")
  return notes + _equivalence_notes(equivalence, impls, with_captum, torch_message)


def _attribution_notes(ig_chunk_images, bench_models):
  """What each attribution method measures on both sides."""
  from benchmarks import timing  # pylint: disable=g-import-not-at-top
  return [
      "Targets (each image's top-1 and top-5 classes) are computed once per batch before "
      "timing; both sides use the same ones and the same inputs.",
      "saliency: the raw input gradient of the target logit (jaxviz input_gradients; Captum "
      "Saliency(abs=False)). guided_backprop: jaxviz rule='guided_backprop'; Captum "
      "GuidedBackprop.",
      "The PyTorch MobileNetV2 uses ReLU6 as an nn.ReLU subclass (forward = clamp(x, 0, 6)): "
      "Captum's GuidedBackprop/Deconvolution hook only nn.ReLU modules, so with nn.ReLU6 they "
      "silently return the plain gradient.",
      "grad_cam: layer " + ", ".join(f"{m}: {bench.GRAD_CAM_LAYERS[m]}" for m in bench_models)
      + "; ReLU'd and bilinearly upsampled to the input size on both sides (jaxviz grad_cam; "
      "Captum LayerGradCam(relu_attributions=True) + LayerAttribution.interpolate bilinear).",
      f"integrated_gradients: {timing.IG_STEPS} steps, {timing.IG_METHOD}, zero baseline; "
      f"both sides evaluate about {ig_chunk_images} images per chunk (jaxviz chunk_size = "
      f"max(1, {ig_chunk_images} // batch) path points, Captum internal_batch_size = "
      "chunk_size * batch).",
      "top5_saliency: jaxviz does one forward pass and a VJP vmapped over the 5 one-hot "
      "cotangents (input_gradients with targets [B, 5]). For Captum both ways are timed and "
      "the faster is reported (column 'Captum variant'): captum_5_calls = 5 Saliency calls "
      "(5 forward + 5 backward passes), captum_expanded_batch = one Saliency call on the batch "
      "repeated 5 times with one target per copy (1 forward + 1 backward pass on 5B images).",
  ]


def _equivalence_notes(equivalence, impls, with_captum, torch_message):
  notes = []
  for model, diffs in equivalence.items():
    if diffs:
      notes.append(f"{model}: the PyTorch models reproduce the jaxviz logits (max abs diff "
                   + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()) + ").")
  if torch_message:
    notes.append(torch_message)
  if "torch_nchw" not in impls and not torch_message:
    notes.append("PyTorch was not timed (--notorch).")
  elif not with_captum and not torch_message:
    notes.append("Captum was not timed.")
  return notes


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  methods = bench.parse_methods(_METHODS.value)  # Validated by the flag validators.
  batch_sizes = bench.parse_batch_sizes(_BATCH_SIZES.value)
  models = bench.parse_models(_MODELS.value)
  suites = _parse_suites(_SUITES.value)
  if _TUNE_MALLOC.value:
    from experiments import malloc  # pylint: disable=g-import-not-at-top
    malloc.tune_glibc_malloc()  # Before JAX starts its worker threads.
  # pylint: disable=g-import-not-at-top  (these import JAX)
  from benchmarks import robustness as bench_robustness
  from benchmarks import style as bench_style
  from benchmarks import synthesis as bench_synthesis
  from benchmarks import timing
  # pylint: enable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  if _DATA_DIR.value:
    os.environ["JAXVIZ_DATA_DIR"] = _DATA_DIR.value
  out = pathlib.Path(_OUTPUT_DIR.value)

  impls, has_torch, with_captum, torch_message = ["jaxviz"], False, False, None
  if _TORCH.value:
    has_torch, with_captum, torch_message = timing.torch_status()
    if torch_message:
      logging.warning("%s", torch_message)
    if has_torch:
      impls += ["torch_nchw", "torch_channels_last"]
  machine = timing.machine_info()
  records, equivalence, sources, extra_notes = [], {}, {}, []
  tabled = []  # what the main report shows (attribution, IG memory, style); synthesis and
  # PGD have tables of their own
  timed = dict(repeats=_REPEATS.value, warmups=_WARMUPS.value,
               min_sample_seconds=_MIN_SAMPLE.value)
  if "attribution" in suites:
    for name in models:
      bm = timing.load_bench_model(name, small_cnn_workdir=_SMALL_CNN_WORKDIR.value)
      sources[name] = f"{bm.weights} weights, {bm.inputs} as inputs"
      logging.info("%s: %s.", name, sources[name])
      model_records, info = timing.run_model(
          bm, methods, batch_sizes, impls=impls, with_captum=with_captum,
          ig_chunk_images=_IG_CHUNK_IMAGES.value, torch_threads=_torch_threads(), **timed)
      records += model_records
      tabled += model_records
      equivalence[name] = info["equivalence"]
      wd.write_json(out / "benchmark.json", records)  # Partial results survive a crash.
    if _IG_MEMORY.value and "mobilenet_v2" in models:
      logging.info("Measuring the peak memory of a 256-step IG on 8 MobileNetV2 images...")
      memory = timing.ig_peak_memory("mobilenet_v2", batch=8, steps=256,
                                     chunk_size=_IG_MEMORY_CHUNK.value,
                                     tune_malloc=_TUNE_MALLOC.value)
      records.append(memory)
      tabled.append(memory)
      print(f"IG 256 steps, batch 8, chunk_size {memory['chunk_size']}: peak memory "
            f"{memory['peak_memory_gib']:.2f} GiB (target < {memory['target_gib']:g} GiB: "
            f"{'met' if memory['within_target'] else 'NOT met'}), {memory['seconds']:.1f} s")
  iterative = []  # the markdown tables of the synthesis and PGD suites
  for suite, benchmark, table, heading, peers in (
      ("synthesis", bench_synthesis.synthesis_benchmark, bench_synthesis.synthesis_markdown,
       "## Class-model synthesis (image-steps/second, batch = classes)",
       bench_synthesis.SYNTHESIS_IMPLS),
      ("pgd", bench_robustness.pgd_benchmark, bench_robustness.pgd_markdown,
       "## PGD-10, L-inf (image-steps/second)", bench_robustness.PGD_IMPLS)):
    if suite not in suites:
      continue
    suite_records = benchmark(models, batch_sizes=(8,), steps=10, torch_threads=_torch_threads(),
                              impls=peers if has_torch else ("jaxviz",),
                              small_cnn_workdir=_SMALL_CNN_WORKDIR.value, **timed)
    records += suite_records
    iterative.append(f"{heading}\n\n{table(suite_records)}")
    wd.write_json(out / "benchmark.json", records)
  if "style" in suites and "mobilenet_v2" in models:
    style, style_info = bench_style.run_style_benchmark(
        repeats=_REPEATS.value, warmups=_WARMUPS.value, impls=impls,
        torch_threads=_torch_threads())
    records += style
    tabled += style
    extra_notes.append(
        "style_adam / style_lbfgs (MobileNetV2, the mobilenet_v2 style preset, "
        f"{style_info['image_shape']} px): batch = styles optimised together (L-BFGS: one); "
        "images/s = style images advanced one optimiser step per second; the PyTorch loop's "
        "loss matches jaxviz's (relative difference "
        + ", ".join(f"{impl} {diff:.1e}" for impl, diff in style_info["loss_check"].items())
        + ").")
    wd.write_json(out / "benchmark.json", records)
  machine["load_average_at_end"] = timing.machine_info().get("load_average")
  settings = {"suites": ", ".join(suites), "models": ", ".join(models),
              **({"methods": ", ".join(methods), "batch_sizes": ", ".join(map(str, batch_sizes))}
                 if "attribution" in suites else {}),
              "repeats": _REPEATS.value, "warmups": _WARMUPS.value,
              "implementations": ", ".join(impls),
              "torch_threads": _torch_threads() if has_torch else "n/a",
              **{f"{name} model": source for name, source in sources.items()}}
  notes = _notes(impls, with_captum, torch_message, _IG_CHUNK_IMAGES.value, equivalence,
                 models, suites) + extra_notes
  report = timing.markdown_report(tabled, machine, notes=notes, settings=settings)
  if iterative:
    report += "\n" + "\n".join(iterative)
  wd.write_json(out / "benchmark.json", records)
  wd.write_bytes(out / "benchmark.md", report.encode())
  print(report)
  logging.info("Wrote %s and %s.", out / "benchmark.json", out / "benchmark.md")


if __name__ == "__main__":
  app.run(main)
