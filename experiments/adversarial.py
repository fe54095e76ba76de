"""Adversarial examples, robustness curves and the attack sanity checklist.

For each model, FGSM (Goodfellow et al. 2014, https://arxiv.org/abs/1412.6572)
and L-inf PGD (Madry et al. 2018, https://arxiv.org/abs/1706.06083) over a
sweep of epsilons in pixel units, then the sanity checklist of Carlini et al.
2019 (https://arxiv.org/abs/1902.06705):

* ``mobilenet_v2``: MobileNetV2 (ImageNet) on the sample photos, epsilon 0.25/255
  to 8/255 (inputs in [-1, 1]: 8/255 is 16/255 there); accuracy is the
  fraction of photos that keep their clean top-1 class; the checklist's
  transfer source is MobileNetV1 0.25/128 (resizing inside the model function);
* ``small_cnn``: the Fashion-MNIST CNN of ``experiments.train`` on the first
  test images (true labels); transfer source: a linear softmax classifier on
  the same data;
* ``mnist_softmax``: the reproduction of Goodfellow et al.'s shallow softmax
  classifier: ``jaxviz.models.LinearSoftmax`` trained on the first 8,000
  images of the MNIST test set (``mnist_t10k``, the only MNIST split shared)
  and evaluated on the other 2,000; the paper reports an FGSM error of 99.9%
  at epsilon 0.25 with a mean confidence of 79.3%.

python -m experiments.adversarial --config=configs/adversarial.py --workdir=/tmp/jaxviz_adversarial

Writes per model ``adversarial_<model>.png`` (clean / amplified perturbation
/ adversarial, with class and probability), ``robustness_<model>.png``
(accuracy against epsilon) and ``adversarial_<model>.npz`` (every curve's
per-example arrays).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any, Callable

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import assets
from jaxviz import robustness
from jaxviz import training
from jaxviz import workdir as wd
from jaxviz.models import meta as meta_lib
from jaxviz.models import registry
from jaxviz.plotting import robustness_plots

LOG = logging.getLogger(__name__)

MODELS = ("mobilenet_v2", "small_cnn", "mnist_softmax")
MNIST_SPLIT = ("trained on the first {train} images of the MNIST test set (mnist_t10k), "
               "evaluated on the other {test}")


def eps_key(epsilon: float, per_255: bool = False) -> str:
  """How an epsilon is named in summary.json: ``"0.25"``, or ``"8/255"``."""
  return f"{epsilon * 255:g}/255" if per_255 else f"{epsilon:g}"


def _caption(meta: meta_lib.ModelMeta, logits: np.ndarray) -> list[str]:
  probs = np.asarray(jax.nn.softmax(logits, axis=-1))
  top = probs.argmax(-1)
  return [f"{inputs_lib.class_name(meta, int(t))} {100 * p[t]:.1f}%" for t, p in zip(top, probs)]


def _attack(name: str, f, meta, steps: int) -> robustness.evaluation.Attack:
  options = {"steps": steps} if name == "pgd" else {}
  return robustness.make_attack(name, f, meta, **options)


def evaluate_model(name: str, f: Callable, meta: meta_lib.ModelMeta, x: np.ndarray,
                   labels: np.ndarray, *, epsilons: np.ndarray, pgd_steps: int,
                   batch_size: int, figure_attack: str, figure_epsilon: float,
                   figure_images: int, checklist: dict[str, Any], transfer_f: Callable | None,
                   key: jax.Array, workdir: pathlib.Path, title: str,
                   per_255: bool) -> dict[str, Any]:
  """Curves, figures, arrays and the checklist of one model; returns its metrics.

  Args:
    name: the model's name in file names and metrics.
    f: its model function.
    meta: its meta.
    x: [N, H, W, C] inputs (input space).
    labels: [N] labels (logit indices).
    epsilons: [E] ascending epsilons in pixel units (0 is prepended).
    pgd_steps: PGD steps of the curve.
    batch_size: images per attack call.
    figure_attack: ``"fgsm"`` or ``"pgd"`` for the example figure.
    figure_epsilon: its epsilon.
    figure_images: how many rows it has.
    checklist: keyword options of :func:`jaxviz.robustness.attack_checklist`;
      it runs on the first batch (as does the figure's attack, so they reuse
      the curves' compiled programs).
    transfer_f: the checklist's transfer source, or None.
    key: PRNG key.
    workdir: where files go.
    title: the figures' title.
    per_255: name epsilons in 1/255 units (ImageNet) instead of [0, 1].
  """
  sweep = np.concatenate([[0.0], epsilons])
  curves = {attack: robustness.robustness_curve(
      _attack(attack, f, meta, pgd_steps), x, labels, sweep, key=key, batch_size=batch_size,
      name=f"{name} {attack}") for attack in ("fgsm", "pgd")}
  arrays = {"labels": labels}
  for attack, curve in curves.items():
    arrays.update(curve.as_arrays(f"{attack}_"))
  wd.write_npz(workdir / f"adversarial_{name}.npz", **arrays)

  xlabel = ("epsilon (L-inf, x/255 pixel units)" if per_255
            else "epsilon (L-inf, pixels in [0, 1])")
  wd.write_figure(workdir / f"robustness_{name}.png", robustness_plots.robustness_curves_figure(
      {"FGSM": (sweep, curves["fgsm"].accuracy),
       f"PGD-{pgd_steps}": (sweep, curves["pgd"].accuracy)},
      xlabel=xlabel, x_scale=255.0 if per_255 else 1.0, title=title))

  first = slice(0, min(batch_size, len(x)))
  count = min(figure_images, len(x))
  shown = _attack(figure_attack, f, meta, pgd_steps)(x[first], labels[first], figure_epsilon, key)
  attack_title = "FGSM" if figure_attack == "fgsm" else f"PGD-{pgd_steps}"
  fig = robustness_plots.adversarial_examples_figure(
      meta.deprocess(x[:count]), meta.deprocess(np.asarray(shown.adversarial[:count])),
      _caption(meta, np.asarray(jax.jit(f)(x[:count]))),
      _caption(meta, np.asarray(shown.logits[:count])),
      epsilon_label=eps_key(figure_epsilon, per_255), title=f"{title}: {attack_title}")
  wd.write_figure(workdir / f"adversarial_{name}.png", fig)

  sanity = robustness.attack_checklist(f, x[first], labels[first], meta=meta, key=key,
                                       transfer_f=transfer_f, **checklist)
  for check, passed in sanity.checks.items():
    LOG.log(logging.INFO if passed else logging.WARNING, "%s checklist %s: %s %s", name, check,
            "passed" if passed else "FAILED", sanity.details[check])

  def by_epsilon(values):
    return {eps_key(e, per_255): float(v) for e, v in zip(sweep, values)}

  return {
      "clean_accuracy": float(curves["fgsm"].accuracy[0]),
      "fgsm_accuracy": by_epsilon(curves["fgsm"].accuracy),
      "pgd_accuracy": by_epsilon(curves["pgd"].accuracy),
      "fgsm_error": by_epsilon(curves["fgsm"].error),
      "fgsm_confidence": by_epsilon(curves["fgsm"].mean_confidence),
      "pgd_median_minimal_epsilon": float(np.median(curves["pgd"].minimal_epsilon)),
      "pgd_steps": int(pgd_steps),
      "images": int(len(x)),
      "checklist": sanity.checks,
      "checklist_details": sanity.details,
  }


def _checklist(settings, epsilon: float) -> dict[str, Any]:
  """The checklist options of a model's settings, at ``epsilon`` (pixel units)."""
  return {"epsilon": epsilon,
          "steps": tuple(settings.checklist_steps),
          "restarts": tuple(settings.checklist_restarts)}


def _mobilenet(config, workdir: pathlib.Path, key: jax.Array) -> dict[str, Any]:
  settings = config.mobilenet_v2
  inputs = inputs_lib.configured_inputs("mobilenet_v2", config, workdir)
  transfer_f = None
  if settings.transfer_model:
    source, source_params, source_meta = registry.load_model(settings.transfer_model)
    size = tuple(source_meta.input_shape[:2])

    def transfer_f(x):  # MobileNetV1 0.25/128 on the same [-1, 1] inputs, resized.
      resized = jax.image.resize(x, (x.shape[0],) + size + (x.shape[-1],), "bilinear")
      return source.apply({"params": source_params}, resized)

  checklist = _checklist(settings, settings.checklist_epsilon_255 / 255.0)
  checklist["epsilon_sweep"] = [e / 255.0 for e in settings.checklist_sweep_255]
  metrics = evaluate_model(
      "mobilenet_v2", inputs.f, inputs.meta, inputs.x, inputs.targets,
      epsilons=np.asarray(settings.epsilons_255) / 255.0, pgd_steps=settings.pgd_steps,
      batch_size=len(inputs.x), figure_attack="pgd",
      figure_epsilon=settings.figure_epsilon_255 / 255.0, figure_images=settings.figure_images,
      checklist=checklist, transfer_f=transfer_f, key=key, workdir=workdir,
      title="MobileNetV2 (ImageNet), accuracy = top-1 class kept", per_255=True)
  metrics["photos"] = inputs.names
  return metrics


def _small_cnn(config, workdir: pathlib.Path, key: jax.Array) -> dict[str, Any]:
  settings = config.small_cnn
  model, params, meta = inputs_lib.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                       workdir, "cnn")
  test = inputs_lib.load_test_split(config.cnn_train, settings.num_images)
  source, source_params, _ = inputs_lib.trained_small_model(
      config.transfer_train, config.transfer_workdir, workdir, "linear")
  return evaluate_model(
      "small_cnn", lambda x: model.apply({"params": params}, x), meta,
      meta.preprocess(test.images), test.labels.astype(np.int32),
      epsilons=np.asarray(settings.epsilons), pgd_steps=settings.pgd_steps,
      batch_size=settings.batch_size, figure_attack="pgd", figure_epsilon=settings.figure_epsilon,
      figure_images=settings.figure_images,
      checklist=_checklist(settings, settings.checklist_epsilon),
      transfer_f=lambda x: source.apply({"params": source_params}, x), key=key, workdir=workdir,
      title=f"Small CNN ({config.cnn_train.dataset})", per_255=False)


def train_mnist_softmax(settings, workdir: pathlib.Path):
  """Goodfellow et al.'s shallow softmax classifier: ``(f, meta, test x, test labels, split)``."""
  dataset = inputs_lib.load_in_memory(settings.dataset, "test", settings.data_dir)
  n_train = min(settings.train_examples, len(dataset) - 1)
  spec = {"model": "linear", "num_classes": len(dataset.class_names), "channels": [],
          "hidden": 0, "input_shape": list(dataset.images.shape[1:]),
          "class_names": list(dataset.class_names), "dataset": dataset.name}
  model, meta = registry.build_small_model(spec), registry.meta_from_spec(spec)
  x = meta.preprocess(dataset.images)
  model_dir = pathlib.Path(settings.workdir).expanduser() if settings.workdir else (
      workdir / "mnist_softmax")
  params, _ = training.train(model, spec, x[:n_train], dataset.labels[:n_train],
                             workdir=model_dir, batch_size=settings.train_batch_size,
                             epochs=settings.epochs, learning_rate=settings.learning_rate,
                             seed=0, checkpoint_every_steps=10 ** 6)
  split = MNIST_SPLIT.format(train=n_train, test=len(dataset) - n_train)
  if settings.dataset != "mnist":
    split += f" (dataset {dataset.name} instead of MNIST)"
  f = lambda v: model.apply({"params": params}, v)
  return f, meta, x[n_train:], dataset.labels[n_train:].astype(np.int32), split


def _mnist_softmax(config, workdir: pathlib.Path, key: jax.Array) -> dict[str, Any]:
  settings = config.mnist_softmax
  f, meta, x, labels, split = train_mnist_softmax(settings, workdir)
  LOG.info("MNIST softmax: %s", split)
  metrics = evaluate_model(
      "mnist_softmax", f, meta, x, labels, epsilons=np.asarray(settings.epsilons),
      pgd_steps=settings.pgd_steps, batch_size=settings.batch_size, figure_attack="fgsm",
      figure_epsilon=settings.figure_epsilon, figure_images=settings.figure_images,
      checklist=_checklist(settings, settings.checklist_epsilon), transfer_f=None, key=key,
      workdir=workdir,
      title="Softmax classifier (MNIST), Goodfellow et al. 2014", per_255=False)
  metrics["split"] = split
  return metrics


def run(config, workdir: pathlib.Path) -> dict[str, Any]:
  """Runs every configured model; metrics as the issue names them.

  Metrics: ``mnist_softmax_fgsm_error`` / ``mnist_softmax_fgsm_confidence``
  ({epsilon: value}), ``mnist_softmax_split`` (what it was trained and
  evaluated on), ``fashion_cnn_fgsm_error``, ``sanity_checklist`` ({check:
  passed for every model}), ``sanity_checklist_per_model``, ``models`` (each
  model's clean/FGSM/PGD accuracies, confidences, checklist details) and
  ``skipped`` ({model: reason}).
  """
  common.check_subset(config.models, MODELS, "models")
  workdir = pathlib.Path(workdir)
  key = jax.random.key(config.seed)
  runners = {"mobilenet_v2": _mobilenet, "small_cnn": _small_cnn,
             "mnist_softmax": _mnist_softmax}
  per_model, skipped = {}, {}
  for name in config.models:
    try:
      per_model[name] = runners[name](config, workdir, key)
    except assets.AssetNotFoundError as e:
      LOG.warning("Skipping %s: %s", name, e)
      skipped[name] = str(e)
  metrics: dict[str, Any] = {"models": per_model, "skipped": skipped}
  if "mnist_softmax" in per_model:
    mnist = per_model["mnist_softmax"]
    metrics["mnist_softmax_fgsm_error"] = mnist["fgsm_error"]
    metrics["mnist_softmax_fgsm_confidence"] = mnist["fgsm_confidence"]
    metrics["mnist_softmax_split"] = mnist["split"]
  if "small_cnn" in per_model:
    metrics["fashion_cnn_fgsm_error"] = per_model["small_cnn"]["fgsm_error"]
  checks = sorted({c for m in per_model.values() for c in m["checklist"]})
  metrics["sanity_checklist"] = {c: all(m["checklist"].get(c, True) for m in per_model.values())
                                 for c in checks}
  metrics["sanity_checklist_per_model"] = {n: m["checklist"] for n, m in per_model.items()}
  return metrics


if __name__ == "__main__":
  common.main(run)
