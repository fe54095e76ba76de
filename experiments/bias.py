"""Detecting bias: a model trained with a spurious mark on one class, seen by saliency.

Two small CNNs are trained on the same images with the same seed and
hyperparameters: the *biased* one on a copy where a bright corner patch marks
``fraction`` of the ``target_class`` training images (and no other image),
the *clean* one on the original images. On the test split the run measures

* the target class's accuracy on clean test images (the shortcut costs
  accuracy when the mark is absent) and on marked ones;
* the share of other-class test images predicted as the target class once
  they carry the mark (the shortcut, exposed directly);
* the share of Simonyan saliency mass (``max_c |d logit_target / d x|``)
  inside the mark region, on the marked and on the clean target-class test
  images, for both models; chance level = the mark's area fraction.

Metrics (``M`` = ``clean`` | ``biased``, the model; ``S`` = ``clean`` |
``marked``, the test images): ``biased_class_accuracy_{S}_test_{M}_model``,
``other_classes_predicted_as_biased_class_{S}_test_{M}_model``,
``test_accuracy_clean_{M}_model``, ``mark_saliency_fraction_{M}`` (on marked
target-class images: the headline numbers),
``mark_saliency_fraction_unmarked_images_{M}`` and ``mark_area_fraction``.

Writes ``saliency_examples.png``, ``summary.png``, ``bias_saliency.npz`` and
``predictions.npz``; the models live in ``<workdir>/biased`` and
``<workdir>/clean`` and are reused by later runs with the same config.

python -m experiments.bias --config=configs/bias.py --workdir=/tmp/jaxviz_bias
"""

from __future__ import annotations

import functools
import json
import logging
import pathlib

import jax
import numpy as np

from experiments import common
from experiments import inputs
from jaxviz import attribution
from jaxviz import checkpoint
from jaxviz import data
from jaxviz import training
from jaxviz import workdir as wd
from jaxviz.models import registry
from jaxviz.plotting import bias_plots

LOG = logging.getLogger(__name__)
MODELS = ("clean", "biased")


def expected_spec(config, train_ds, biased: bool) -> dict:
  """The JSON spec saved with a model: how to rebuild it and what it was trained on.

  Args:
    config: the bias config.
    train_ds: the training ``Dataset`` (shapes and class names).
    biased: whether the model is trained on the marked images.

  Returns:
    :func:`experiments.inputs.model_spec` plus the training hyperparameters
    and the mark settings (None for the clean model), as a JSON-normal dict.
  """
  tc = config.train
  spec = inputs.model_spec(tc, train_ds)
  spec["training"] = {"batch_size": tc.batch_size, "epochs": tc.epochs,
                      "learning_rate": tc.learning_rate, "seed": tc.seed,
                      "max_train_examples": tc.max_train_examples}
  spec["bias"] = ({"target_class": config.target_class, "fraction": config.fraction,
                   "mark_size": config.mark_size, "mark_corner": config.mark_corner,
                   "mark_value": config.mark_value, "seed": config.seed} if biased else None)
  return json.loads(json.dumps(spec))  # tuples -> lists, as stored on disk


def check_reusable(spec: dict, path: pathlib.Path) -> None:
  """Raises ValueError when ``path`` holds a model (or partial run) of another config."""
  spec_file = path / checkpoint.CHECKPOINT_DIR / checkpoint.MODEL_FILE
  if spec_file.exists() and checkpoint.read_spec(path) != spec:
    raise ValueError(f"{spec_file} was trained with a different config than this run's "
                     f"{spec}; delete {path} or use another workdir.")


def train_or_load(config, spec: dict, images: np.ndarray, labels: np.ndarray,
                  path: pathlib.Path):
  """The model trained into ``path``: reused when finished, else trained (or resumed).

  Args:
    config: the bias config (``config.train`` holds the hyperparameters).
    spec: the model spec from :func:`expected_spec`, checked with
      :func:`check_reusable` beforehand.
    images: uint8 [N, H, W, C] training images.
    labels: int32 [N].
    path: the model's training workdir.

  Returns:
    ``(model, params)``.
  """
  if checkpoint.has_trained_model(path):
    LOG.info("Reusing the model trained in %s", path)
    model, params, _ = registry.load_trained(path)
    return model, params
  tc = config.train
  model = registry.build_small_model(spec)
  LOG.info("Training a model into %s", path)
  params, _ = training.train(model, spec, registry.meta_from_spec(spec).preprocess(images),
                             labels, workdir=path,
                             batch_size=tc.batch_size, epochs=tc.epochs,
                             learning_rate=tc.learning_rate, seed=tc.seed,
                             checkpoint_every_steps=tc.checkpoint_every_steps)
  return model, params


def _mark(images: np.ndarray, config) -> np.ndarray:
  """Every image with the mark (uint8 numpy)."""
  return np.asarray(data.add_mark(images, np.ones(len(images), bool), size=config.mark_size,
                                  corner=config.mark_corner, value=config.mark_value))


def run(config, workdir: pathlib.Path) -> dict:
  """Trains both models (or reuses them), evaluates, writes figures and arrays."""
  tc = config.train
  train_ds = inputs.load_in_memory(tc.dataset, "train", tc.data_dir)
  test_ds = inputs.load_in_memory(tc.dataset, "test", tc.data_dir)
  num_classes = len(train_ds.class_names)
  if not 0 <= config.target_class < num_classes:
    raise ValueError(f"target_class must be in [0, {num_classes}) for {tc.dataset}, got "
                     f"{config.target_class}.")
  region = data.mark_region(train_ds.images.shape[1:3], config.mark_size, config.mark_corner)
  train_x, train_y = inputs.limit(train_ds, tc.max_train_examples)
  test_x, test_y = inputs.limit(test_ds, tc.max_test_examples)
  target = config.target_class
  class_name = train_ds.class_names[target]
  is_target = test_y == target
  if not is_target.any():
    raise ValueError(f"The test split has no image of target_class={target}.")
  biased_x, marked = data.biased_dataset(
      train_x, train_y, target_class=target, key=jax.random.key(config.seed),
      fraction=config.fraction, size=config.mark_size, corner=config.mark_corner,
      value=config.mark_value)
  LOG.info("Marked %d of %d %r training images", int(marked.sum()),
           int(np.sum(train_y == target)), class_name)
  train_sets = {"clean": train_x, "biased": np.asarray(biased_x)}
  specs = {name: expected_spec(config, train_ds, biased=name == "biased") for name in MODELS}
  for name in MODELS:
    check_reusable(specs[name], workdir / name)
  models = {name: train_or_load(config, specs[name], train_sets[name], train_y, workdir / name)
            for name in MODELS}

  test_marked = _mark(test_x, config)
  preprocess = registry.meta_from_spec(specs["clean"]).preprocess
  images_in = {"clean": preprocess(test_x), "marked": preprocess(test_marked)}
  targets = np.full(int(is_target.sum()), target, np.int32)
  metrics, preds, maps = {}, {}, {}
  for name in MODELS:
    model, params = models[name]
    f = functools.partial(model.apply, {"params": params})
    for images in ("clean", "marked"):
      pred = training.predict_labels(model, params, images_in[images])
      preds[f"{name}_model_{images}_test"] = pred
      metrics[f"biased_class_accuracy_{images}_test_{name}_model"] = float(
          np.mean(pred[is_target] == target))
      metrics[f"other_classes_predicted_as_biased_class_{images}_test_{name}_model"] = float(
          np.mean(pred[~is_target] == target))
      # Saliency of the target-class logit on the target-class test images.
      m = np.asarray(attribution.saliency_map(f, images_in[images][is_target], targets))
      maps[f"{name}_model_{images}_test"] = m
      fraction = float(attribution.mark_saliency_fraction(m, region))
      if images == "marked":
        metrics[f"mark_saliency_fraction_{name}"] = fraction
      else:
        metrics[f"mark_saliency_fraction_unmarked_images_{name}"] = fraction
    metrics[f"test_accuracy_clean_{name}_model"] = float(
        np.mean(preds[f"{name}_model_clean_test"] == test_y))
  metrics["mark_area_fraction"] = float(region.mean())
  metrics["biased_class"] = class_name
  metrics["num_marked_training_images"] = int(marked.sum())
  metrics["num_biased_class_test_images"] = int(is_target.sum())

  wd.write_npz(workdir / "predictions.npz", labels=test_y, **preds)
  wd.write_npz(workdir / "bias_saliency.npz", region=region,
               images_clean=test_x[is_target], images_marked=test_marked[is_target],
               **{f"maps_{k}": v for k, v in maps.items()})
  _figures(config, workdir, metrics, maps, preds, images_in, is_target, region,
           test_ds.class_names)
  LOG.info("%s accuracy on clean test images: clean model %.3f, biased model %.3f; "
           "saliency in mark: clean %.3f, biased %.3f (area %.3f)", class_name,
           metrics["biased_class_accuracy_clean_test_clean_model"],
           metrics["biased_class_accuracy_clean_test_biased_model"],
           metrics["mark_saliency_fraction_clean"], metrics["mark_saliency_fraction_biased"],
           metrics["mark_area_fraction"])
  return metrics


def _figures(config, workdir, metrics, maps, preds, images_in, is_target, region, class_names):
  n = min(config.num_examples, int(is_target.sum()))
  name = class_names[config.target_class]
  marked, clean = images_in["marked"][is_target][:n], images_in["clean"][is_target][:n]

  def captions(model, images):
    m = maps[f"{model}_model_{images}_test"][:n]
    shares = np.asarray(attribution.region_saliency_fractions(m, region))
    pred = preds[f"{model}_model_{images}_test"][is_target][:n]
    return [f"pred {class_names[p][:12]}\n{s:.0%} in mark" for p, s in zip(pred, shares)]

  rows = [("marked test image", marked, None, [f"true {name[:12]}"] * n)]
  for model, images, label in (("clean", "marked", "clean model,\nmarked image"),
                               ("biased", "marked", "biased model,\nmarked image"),
                               ("biased", "clean", "biased model,\nunmarked image")):
    rows.append((label, marked if images == "marked" else clean,
                 maps[f"{model}_model_{images}_test"][:n], captions(model, images)))
  fig = bias_plots.saliency_overlay_figure(
      [r[1] for r in rows], [r[2] for r in rows], [r[0] for r in rows],
      captions=[r[3] for r in rows], region=region,
      title=f"Saliency of the {name!r} logit (Simonyan |grad|) on {name!r} test images\n"
            f"dashed box = the mark, carried by {config.fraction:.0%} of the {name!r} training "
            "images of the biased model")
  wd.write_figure(workdir / "saliency_examples.png", fig)

  chance_acc = 1.0 / len(class_names)
  shortcut = "other_classes_predicted_as_biased_class_marked_test_{}_model"
  panels = [
      bias_plots.BarPanel(
          f"Saliency mass inside the mark\n(marked {name!r} test images)", "fraction of |grad|",
          {"clean model": metrics["mark_saliency_fraction_clean"],
           "biased model": metrics["mark_saliency_fraction_biased"]},
          metrics["mark_area_fraction"], "chance = mark area"),
      bias_plots.BarPanel(
          f"{name!r} accuracy on clean test images", "accuracy",
          {"clean model": metrics["biased_class_accuracy_clean_test_clean_model"],
           "biased model": metrics["biased_class_accuracy_clean_test_biased_model"]},
          chance_acc, "chance = 1 / classes"),
      bias_plots.BarPanel(
          f"Other-class test images with the mark\npredicted as {name!r}", "fraction",
          {"clean model": metrics[shortcut.format("clean")],
           "biased model": metrics[shortcut.format("biased")]},
          chance_acc, "chance = 1 / classes"),
  ]
  wd.write_figure(workdir / "summary.png", bias_plots.summary_bars(
      panels, title=f"Detecting bias: a corner mark on {name!r} training images"))


if __name__ == "__main__":
  common.main(run)
