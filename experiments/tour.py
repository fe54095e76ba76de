"""The whole lecture in one command: every experiment, in order, and one HTML report.

python -m experiments.tour --config=configs/tour.py --workdir=/tmp/jaxviz_tour

Each section is one experiment's own ``run`` function with a smaller config
(``configs/tour.py``), run into ``W/<section>`` through the experiment
contract; ``W/index.html`` shows every section's figures with captions that
quote its ``summary.json``. The sections share one small CNN (the ``train``
section, ``W/train``).

Safe and resumable:

* an unwritable workdir, or one holding another tool's files, is an error
  before any work; the tour's own workdirs carry ``tour.json``;
* a section runs into ``W/.partial/<section>`` and replaces ``W/<section>``
  only when it finished, so an interrupted tour leaves every finished section
  complete; a rerun reuses a section whose ``summary.json`` holds the same
  config, and reruns the others;
* a section whose optional asset is missing is skipped with the reason shown
  in the report; a section that fails is shown as failed with its error, the
  tour goes on, and the command exits with status 1;
* ``index.html`` and ``summary.json`` are replaced atomically.

Metrics (``summary.json``): ``sections`` ``{name: {"status": "ok" | "skipped"
| "failed", "wall_seconds": x, "reason": str}}`` and ``total_seconds``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import pathlib
import platform
import shutil
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

import jax

from experiments import common
from jaxviz import assets
from jaxviz import report
from jaxviz import workdir as wd

LOG = logging.getLogger(__name__)

STATE_FILE = "tour.json"
TOOL = "jaxviz.tour"
PARTIAL = ".partial"

Summary = Mapping[str, Any]


# ------------------------------------------------------------------ topics


def _fmt(value, digits: int = 3) -> str:
  """A number for a caption: floats to ``digits`` significant digits, None as n/a."""
  if value is None:
    return "n/a"
  return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _pct(value) -> str:
  return "n/a" if value is None else f"{100 * value:.0f}%"


def _get(summary: Summary, *path, default=None):
  node = summary
  for key in path:
    if not isinstance(node, Mapping) or key not in node:
      return default
    node = node[key]
  return node


@dataclasses.dataclass(frozen=True)
class Topic:
  """One section of the tour.

  Attributes:
    name: section name (its folder, its config field, and the module
      ``experiments.<name>`` whose ``run`` it calls).
    title: the heading in the report.
    figures: ``(glob pattern, caption)`` pairs, in display order; the caption
      is formatted with the summary (``caption(summary, file name)``).
    describe: the section's summary paragraph from its ``summary.json``.
  """

  name: str
  title: str
  figures: Sequence[tuple[str, Callable[[Summary, str], str]]]
  describe: Callable[[Summary], str]


def _mean(values: Mapping[str, float]) -> float:
  return sum(values.values()) / len(values) if values else float("nan")


def _class_probabilities(summary: Summary, model: str) -> str:
  probabilities = summary["target_probability"][model]
  return (f"lowest class probability {_fmt(min(probabilities.values()))} over "
          f"{len(probabilities)} classes")


def _text(template: str) -> Callable[[Summary, str], str]:
  return lambda summary, name: template


TOPICS: tuple[Topic, ...] = (
    Topic("train", "The small CNN behind the Fashion-MNIST sections", (),
          lambda s: (f"A small CNN trained with Adam: test accuracy {_fmt(s['test_accuracy'])} "
                     f"after {s['steps']} steps ({_fmt(s['train_seconds'])} s of training).")),
    Topic("weights", "Weights: conv filters and class templates", (
        ("mobilenet_Conv_filters.png", _text(
            "MobileNetV2's first-layer filters (3x3 RGB, each scaled to its own range).")),
        ("cnn_conv1_filters.png", _text("The small CNN's first-layer filters.")),
        ("linear_class_templates.png", lambda s, n: (
            "Weights of a linear softmax classifier reshaped into one template per class "
            f"(test accuracy {_fmt(s['linear_test_accuracy'])}; mean correlation with the "
            f"class's mean-image contrast {_fmt(s['template_correlation_mean'])}).")),
    ), lambda s: (f"Linear classifier test accuracy {_fmt(s['linear_test_accuracy'])}; "
                  f"template/class-contrast correlation {_fmt(s['template_correlation_mean'])}.")),
    Topic("activations", "Activations: feature maps and top-activating inputs", (
        ("mobilenet_maps_*.png", _text("MobileNetV2 feature maps of a sample photo: the most "
                                       "active channels of a shallow and a deeper layer.")),
        ("cnn_maps_conv*.png", _text("Feature maps of the small CNN for one test image.")),
        ("top_activations_*.png", lambda s, n: (
            f"The test images (of {s['num_images_searched']}) that activate each channel most, "
            "with the receptive-field patch of the strongest unit.")),
    ), lambda s: ("Receptive fields measured from gradient support: " + ", ".join(
        f"{k} {v['size'][0]}x{v['size'][1]}" for k, v in s["receptive_fields"].items()) + ".")),
    Topic("embedding", "Embeddings: t-SNE and PCA of a layer's features", (
        ("embedding_scatter.png", lambda s, n: (
            f"PCA and t-SNE of raw pixels vs. the CNN's {s['layer']} features, coloured by class; "
            f"{s['knn_k']}-NN class agreement of the t-SNE: pixels "
            f"{_fmt(s['knn5_agreement']['pixels']['tsne'])}, features "
            f"{_fmt(s['knn5_agreement']['features']['tsne'])}.")),
        ("mosaic_features_tsne.png", _text("The test images at their t-SNE positions.")),
    ), lambda s: (f"{s['num_images']} test images; {s['knn_k']}-NN agreement in the raw spaces: "
                  f"pixels {_fmt(s['knn5_agreement']['pixels']['raw'])}, {s['layer']} features "
                  f"{_fmt(s['knn5_agreement']['features']['raw'])}.")),
    Topic("saliency", "Gradients: saliency, deconvnet, guided backprop, Grad-CAM", (
        ("saliency_mobilenet_v2.png", lambda s, n: (
            "Eight attribution methods for MobileNetV2's top-1 class (columns) on sample photos "
            f"(rows); {_get(s, 'rectifiers_rewritten', 'mobilenet_v2')} ReLU6 rewritten for "
            "deconvnet and guided backprop.")),
        ("saliency_small_cnn.png", lambda s, n: (
            "The same methods for the small CNN; "
            f"{_get(s, 'rectifiers_rewritten', 'small_cnn')} ReLUs rewritten.")),
    ), lambda s: ("Rectifiers rewritten by the backward-rule transform: " + ", ".join(
        f"{k} {v}" for k, v in s["rectifiers_rewritten"].items()) + "." + (
            f" Skipped: {', '.join(s['skipped'])}." if s.get("skipped") else ""))),
    Topic("neuron", "What a channel responds to: guided backprop of internal units", (
        ("neuron_mobilenet_v2_*.png", _text(
            "Guided backprop of each image's strongest channels, from shallow to deep layers of "
            "MobileNetV2 (signed: mid-gray is zero).")),
        ("neuron_small_cnn_*.png", _text("The same for the small CNN's conv layers.")),
    ), lambda s: "Layers: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in s["layers"].items())
          + "."),
    Topic("segmentation", "Segmentation from saliency (GrabCut)", (
        ("segmentation.png", lambda s, n: (
            f"{s['saliency']} seeds GrabCut; masks cover {_pct(s['mean_mask_area_fraction'])} of "
            f"the image and hold {_pct(s['mean_saliency_mass_in_mask'])} of the saliency.")),
    ), lambda s: (f"Mean saliency concentration in the mask "
                  f"{_fmt(s['mean_saliency_concentration'])}x the area share ({s['model']}).")),
    Topic("bias", "Detecting dataset bias with saliency", (
        ("saliency_examples.png", lambda s, n: (
            f"Saliency of the '{s['biased_class']}' logit on its test images: the biased model "
            f"puts {_pct(s['mark_saliency_fraction_biased'])} of it in the mark (clean model "
            f"{_pct(s['mark_saliency_fraction_clean'])}; area {_pct(s['mark_area_fraction'])}).")),
        ("summary.png", _text("The shortcut in numbers: saliency in the mark, accuracy on clean "
                              "images, other classes pulled to the biased class by the mark.")),
    ), lambda s: (f"Mark saliency fraction {_fmt(s['mark_saliency_fraction_biased'])} (biased) vs "
                  f"{_fmt(s['mark_saliency_fraction_clean'])} (clean); clean "
                  f"'{s['biased_class']}' accuracy "
                  f"{_fmt(s['biased_class_accuracy_clean_test_biased_model'])} vs "
                  f"{_fmt(s['biased_class_accuracy_clean_test_clean_model'])}.")),
    Topic("sanity", "Sanity checks: cascading parameter randomization", (
        ("sanity_mobilenet_v2_*.png", _text(
            "Maps of MobileNetV2 as its layers are re-initialised from the top; ρ is the Spearman "
            "rank correlation with the trained model's map.")),
        ("sanity_small_cnn_*.png", _text("The same test on the small CNN.")),
    ), lambda s: "Rank correlation after randomizing every layer: " + ", ".join(
        f"{m} {_fmt(list(v.values())[-1])}" for m, v in s["rank_correlation"].items()) + "."),
    Topic("class_model", "Input synthesis: class-model visualization", (
        ("class_model_mobilenet_v2.png", lambda s, n: (
            "The image each ImageNet class scores highest (gradient ascent from a blank image), "
            "unregularized vs regularized; regularized: "
            + _class_probabilities(s, "mobilenet_v2") + ".")),
        ("class_model_small_cnn.png", lambda s, n: (
            "The same for the ten Fashion-MNIST classes of the small CNN; regularized: "
            + _class_probabilities(s, "small_cnn") + ".")),
    ), lambda s: "Every target the argmax: " + ", ".join(
        f"{m} {all(v.values())}" for m, v in s["target_is_argmax"].items()) + (
            f"; mean probability under MobileNetV1 0.25 (not optimised): "
            + ", ".join(f"{k} {_fmt(_mean(v))}" for k, v in s["transfer_probability"].items())
            if s.get("transfer_probability") else "") + "."),
    Topic("feature_vis", "Input synthesis: feature visualization", (
        ("feature_vis_*.png", lambda s, n: (
            "Channels from shallow to deep layers, optimised with Lucid's settings; below each "
            "image the activation reached as a multiple of the best real photo's "
            f"(lowest {_fmt(min(s['activation_ratio'].values()))}x); high-frequency energy "
            + ", ".join(f"{k} {_pct(v)}" for k, v in s["high_frequency_energy"].items()) + ".")),
    ), lambda s: ("Activation reached / best real photo: " + ", ".join(
        f"{k} {_fmt(v)}" for k, v in s["activation_ratio"].items()) + ".")),
    Topic("adversarial", "Robustness: adversarial examples and robustness curves", (
        ("adversarial_mobilenet_v2.png", _text(
            "Clean image, perturbation (amplified) and adversarial image, each with its label "
            "and probability: PGD on MobileNetV2 at a budget too small to see.")),
        ("robustness_*.png", _text("Accuracy against the attack budget (pixel units), FGSM "
                                   "and PGD.")),
        ("adversarial_mnist_softmax.png", lambda s, n: (
            "Goodfellow et al.'s linear softmax on MNIST: FGSM error "
            f"{_pct(_get(s, 'mnist_softmax_fgsm_error', '0.25'))} at epsilon 0.25 (paper "
            "99.9%).")),
        ("adversarial_small_cnn.png", _text("The same attack on the Fashion-MNIST CNN.")),
    ), lambda s: ("Attack sanity checklist (Carlini et al. 2019): " + ", ".join(
        f"{k} {'pass' if v else 'FAIL'}" for k, v in s["sanity_checklist"].items()) + ".")),
    Topic("shape_bias", "Robustness: shape vs texture on cue-conflict images", (
        ("shape_bias.png", lambda s, n: (
            f"Shape bias per category (Geirhos et al. 2019): {_fmt(s['shape_bias'])} overall "
            f"({s['shape_decisions']} shape vs {s['texture_decisions']} texture decisions of "
            f"{s['images_evaluated']} images); ResNet-50 0.214, humans about 0.96.")),
    ), lambda s: f"Shape bias {_fmt(s['shape_bias'])} on {s['images_evaluated']} images."),
    Topic("style_transfer", "Style transfer (Gatys et al.) on MobileNetV2", (
        ("style_transfer.png", lambda s, n: (
            "The content photo in each style, all styles in one batched run; the style loss "
            "fell " + ", ".join(f"{k} {v:.0f}x" for k, v in s["style_loss_ratio"].items())
            + "; held-out style distance (MobileNetV1, not optimised) " + ", ".join(
                f"{_fmt(v['start'])} -> {_fmt(v['end'])}"
                for v in s["heldout_style_distance"].values()) + ".")),
        ("style_remedies.png", _text("Remedies for non-VGG networks side by side.")),
        ("style_sweep.png", _text("The content weight trades style for content.")),
    ), lambda s: (f"{_fmt(s['iterations_per_second'])} iterations/s for all styles together; "
                  f"targets met: {s['targets_met']}.")),
)

TOPIC_NAMES = tuple(t.name for t in TOPICS)


# ---------------------------------------------------------------- the state


class WorkdirError(ValueError):
  """The workdir cannot hold a tour (unwritable, or another tool's files)."""


def check_workdir(workdir: pathlib.Path) -> None:
  """Raises :class:`WorkdirError` unless ``workdir`` can hold this tour (before any work)."""
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(f"Workdir {workdir} exists and is not a folder.")
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    probe = workdir / f".write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
  except OSError as e:
    raise WorkdirError(f"Workdir {workdir} is not writable ({e.strerror or e}); choose another "
                       "--workdir.") from e
  entries = [p.name for p in workdir.iterdir() if p.name != PARTIAL]
  state = workdir / STATE_FILE
  if entries and not state.exists():
    raise WorkdirError(
        f"Workdir {workdir} holds files of another tool ({', '.join(sorted(entries)[:5])}"
        f"{', ...' if len(entries) > 5 else ''}) and no {STATE_FILE}; the tour writes only into "
        "an empty folder or one of its own. Choose another --workdir.")
  if state.exists():
    try:
      tool = wd.read_json(state).get("tool")
    except (json.JSONDecodeError, AttributeError) as e:
      raise WorkdirError(f"{state} is not a tour state file ({e}).") from e
    if tool != TOOL:
      raise WorkdirError(f"{state} belongs to {tool!r}, not {TOOL!r}.")


def _json_normal(value):
  return json.loads(json.dumps(value))


def is_complete(section_dir: pathlib.Path, section_config: Mapping[str, Any]) -> bool:
  """Whether a section's outputs are complete and were made with this config."""
  summary_file = section_dir / common.SUMMARY
  if not summary_file.exists():
    return False
  try:
    summary = wd.read_json(summary_file)
  except json.JSONDecodeError:
    return False
  return summary.get("config") == _json_normal(section_config)


def _swap_in(partial: pathlib.Path, final: pathlib.Path) -> None:
  """Replaces ``final`` by the finished ``partial`` folder (the old one removed after)."""
  old = final.with_name(f".old-{final.name}")
  if old.exists():
    shutil.rmtree(old)
  if final.exists():
    final.rename(old)
  partial.rename(final)
  if old.exists():
    shutil.rmtree(old)


# ----------------------------------------------------------------- running


@dataclasses.dataclass
class Outcome:
  """How a section ended; ``summary``: its summary.json when it finished (ok or skipped)."""
  status: str
  wall_seconds: float
  reason: str = ""
  reused: bool = False
  summary: Summary | None = None


def _section_config(config, topic: Topic, workdir: pathlib.Path):
  section = config[topic.name].copy_and_resolve_references()
  if "cnn_workdir" in section:  # the experiment reads the shared small CNN
    section.cnn_workdir = str(workdir / "train")
    section.cnn_train = config.train.copy_and_resolve_references()
  return section


def _finished(section_dir: pathlib.Path, reused: bool) -> Outcome:
  """The outcome of a section that ran: skipped when it skipped everything it had to do."""
  summary = wd.read_json(section_dir / common.SUMMARY)
  seconds = float(summary.get("wall_seconds", 0.0))
  skipped = summary.get("skipped") or {}
  if skipped and not list(section_dir.glob("*.png")):
    reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items())
    return Outcome("skipped", seconds, f"a needed asset is missing ({reasons})", reused=reused,
                   summary=summary)
  return Outcome("ok", seconds, reused=reused, summary=summary)


def run_section(topic: Topic, section_config, workdir: pathlib.Path,
                train_ok: bool) -> Outcome:
  """Runs (or reuses) one section; never raises for the section's own errors."""
  final = workdir / topic.name
  if is_complete(final, common.config_to_dict(section_config)):
    LOG.info("%s: reusing the complete outputs in %s", topic.name, final)
    return _finished(final, reused=True)
  if "cnn_workdir" in section_config and not train_ok:
    return Outcome("skipped", 0.0, "needs the small CNN of the train section, which did not "
                   "finish")
  partial = workdir / PARTIAL / topic.name
  if partial.exists():
    shutil.rmtree(partial)
  start = time.time()
  try:
    module = importlib.import_module(f"experiments.{topic.name}")
    common.execute(module.run, section_config, partial)
  except assets.AssetNotFoundError as e:
    shutil.rmtree(partial, ignore_errors=True)
    return Outcome("skipped", time.time() - start, f"a needed asset is missing: {e}")
  except Exception as e:  # pylint: disable=broad-except  (reported, and the tour goes on)
    shutil.rmtree(partial, ignore_errors=True)
    LOG.error("%s failed: %s", topic.name, e)
    lines = traceback.format_exception(type(e), e, e.__traceback__)
    return Outcome("failed", time.time() - start,
                   f"{type(e).__name__}: {e}\n" + "".join(lines[-6:]))
  _swap_in(partial, final)
  outcome = _finished(final, reused=False)
  outcome.wall_seconds = time.time() - start
  return outcome


def _figures(topic: Topic, section_dir: pathlib.Path, summary: Summary) -> list[report.Figure]:
  figures, seen = [], set()
  for pattern, caption in topic.figures:
    for path in sorted(section_dir.glob(pattern)):
      if path.name in seen:
        continue
      seen.add(path.name)
      try:
        text = caption(summary, path.name)
      except (KeyError, TypeError, IndexError, AttributeError) as e:
        text = f"{path.name} (caption unavailable: {type(e).__name__} {e})"
      figures.append(report.Figure(f"{topic.name}/{path.name}", text, alt=path.stem))
  return figures


def _report_section(topic: Topic, outcome: Outcome, workdir: pathlib.Path) -> report.Section:
  section_dir = workdir / topic.name
  summary = outcome.summary or {}
  try:
    text = topic.describe(summary) if summary else ""
  except (KeyError, TypeError, IndexError, AttributeError) as e:
    text = f"(summary unavailable: {type(e).__name__} {e})"
  figures = _figures(topic, section_dir, summary) if summary else []
  return report.Section(topic.name, topic.title, outcome.status, summary=text, figures=figures,
                        reason=outcome.reason, wall_seconds=outcome.wall_seconds)


def _facts(config) -> dict[str, str]:
  versions = common.versions()
  roots = ", ".join(str(r) for r in assets.search_roots())
  return {
      "models": "MobileNetV2 1.0/224 and MobileNetV1 0.25/128 (ImageNet, TF-slim weights); "
                "a small CNN and a linear classifier trained here",
      "data": f"{config.train.dataset} (train/test), sample photos, foolbox samples, "
              f"cue-conflict and style images; assets from {roots}",
      "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
      "machine": f"{platform.node()}: {common.cpu_model()}, {os.cpu_count()} cores; JAX backend "
                 f"{jax.default_backend()} ({len(jax.devices())} device(s))",
  }


def _write_state(workdir: pathlib.Path, outcomes: Mapping[str, Outcome]) -> None:
  wd.write_json(workdir / STATE_FILE, {"tool": TOOL, "sections": {
      name: dataclasses.asdict(o) for name, o in outcomes.items()}})


def _eta(expected: Mapping[str, float], done: Sequence[str], todo: Sequence[str],
         elapsed: float) -> float:
  """Seconds left: the expected time of what is left, scaled by the pace so far."""
  spent = sum(expected.get(n, 60.0) for n in done)
  pace = elapsed / spent if spent and elapsed > 0 else 1.0
  return pace * sum(expected.get(n, 60.0) for n in todo)


def run(config, workdir: pathlib.Path) -> dict:
  """Runs every configured section in lecture order and writes ``index.html``."""
  workdir = pathlib.Path(workdir)
  common.check_subset(config.sections, TOPIC_NAMES, "sections")
  check_workdir(workdir)
  topics = [t for t in TOPICS if t.name in config.sections]
  sections = {t.name: _section_config(config, t, workdir) for t in topics}
  outcomes: dict[str, Outcome] = {}
  _write_state(workdir, outcomes)
  start = time.time()
  expected = dict(config.expected_seconds)
  train_ok = True
  for i, topic in enumerate(topics, start=1):
    LOG.info("[%d/%d] %s: %s", i, len(topics), topic.name, topic.title)
    outcome = run_section(topic, sections[topic.name], workdir, train_ok)
    outcomes[topic.name] = outcome
    if topic.name == "train":
      train_ok = outcome.status == "ok"
    _write_state(workdir, outcomes)
    elapsed = time.time() - start
    eta = _eta(expected, list(outcomes), [t.name for t in topics[i:]], elapsed)
    LOG.info("[%d/%d] %s %s in %.0f s%s | tour: %.0f s elapsed, ETA %.0f s", i, len(topics),
             topic.name, outcome.status, outcome.wall_seconds,
             " (reused)" if outcome.reused else "", elapsed, eta)
  total = time.time() - start
  page = report.page(
      config.title, [_report_section(t, outcomes[t.name], workdir) for t in topics],
      facts=_facts(config), total_seconds=total,
      intro="Every section is one experiment of jaxviz run with a small config; each figure's "
            "caption quotes the numbers of that experiment's summary.json in its folder.")
  wd.write_bytes(workdir / "index.html", page.encode())
  shutil.rmtree(workdir / PARTIAL, ignore_errors=True)
  LOG.info("Wrote %s", workdir / "index.html")
  return {"sections": {name: {"status": o.status, "wall_seconds": o.wall_seconds,
                              "reason": o.reason} for name, o in outcomes.items()},
          "total_seconds": total}


def exit_status(summary: Summary) -> int:
  """1 when a section failed, else 0."""
  return int(any(s["status"] == "failed" for s in summary["sections"].values()))


if __name__ == "__main__":
  common.main(run, exit_status=exit_status)
