"""PGD adversarial training (Madry et al. 2018) against standard training, small CNN, Fashion-MNIST.

Madry et al., "Towards Deep Learning Models Resistant to Adversarial
Attacks", https://arxiv.org/abs/1706.06083 . The standard model is the small
CNN of ``experiments.train``; the robust one has the same architecture, data
and schedule, and trains on PGD adversarial examples at epsilon 0.1 (pixels
in [0, 1]) through the ``perturb`` hook of :func:`jaxviz.training.train`
(:func:`jaxviz.robustness.pgd_perturb`). Both are evaluated clean, under
FGSM, PGD-20 and PGD-100 with 10 restarts (the worst case per example); the
ladder clean >= FGSM >= PGD-20 >= PGD-100x10 must hold for both (a weaker
strong attack would mean a broken attack or masked gradients). Saliency
maps (input gradients of the true class) before and after show the more
perceptually aligned gradients of robust models (Tsipras et al. 2019,
https://arxiv.org/abs/1805.12152).

python -m experiments.adversarial_training --config=configs/adversarial_training.py \
    --workdir=/tmp/jaxviz_adversarial_training

Writes ``robustness_adversarial_training.png`` (PGD-20 accuracy against
epsilon, both models), ``saliency_adversarial_training.png`` and
``adversarial_training.npz`` (per-example outcomes and the saliency maps).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import attribution
from jaxviz import checkpoint
from jaxviz import training
from jaxviz import workdir as wd
from jaxviz.models import registry
from jaxviz import robustness
from jaxviz.plotting import robustness_plots

LOG = logging.getLogger(__name__)

MODELS = ("standard", "adversarial")
ATTACKS = ("clean", "fgsm", "pgd20", "pgd100x10")


def adversarially_trained_model(config, workdir: pathlib.Path):
  """``(model, params, meta, train_seconds)`` of the PGD-trained CNN (trained now if absent)."""
  train_config = config.cnn_train
  path = (pathlib.Path(config.adversarial_workdir).expanduser() if config.adversarial_workdir
          else workdir / "adversarial")
  if checkpoint.has_trained_model(path):
    model, params, meta = registry.load_trained(path)
    return model, params, meta, None
  train_ds = inputs_lib.load_in_memory(train_config.dataset, "train", train_config.data_dir)
  spec = inputs_lib.model_spec(train_config, train_ds)
  model, meta = registry.build_small_model(spec), registry.meta_from_spec(spec)
  images, labels = inputs_lib.limit(train_ds, train_config.max_train_examples)
  perturb = robustness.pgd_perturb(model, meta, epsilon=config.epsilon,
                                   steps=config.adversarial_pgd_steps)
  LOG.info("PGD-%d adversarial training at epsilon %g on %d images", config.adversarial_pgd_steps,
           config.epsilon, len(images))
  params, stats = training.train(
      model, spec, meta.preprocess(images), labels.astype(np.int32), workdir=path,
      batch_size=train_config.batch_size, epochs=config.adversarial_epochs,
      learning_rate=train_config.learning_rate, seed=train_config.seed,
      checkpoint_every_steps=train_config.checkpoint_every_steps, perturb=perturb)
  return model, params, meta, stats["train_seconds"]


def evaluate(f, meta, x: np.ndarray, labels: np.ndarray, config, key: jax.Array
             ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
  """Accuracy under each attack of :data:`ATTACKS`, and the per-example correctness."""
  eps, n_strong = config.epsilon, min(config.strong_images, len(x))
  attacks = {
      "fgsm": (robustness.make_attack("fgsm", f, meta), x, labels),
      "pgd20": (robustness.make_attack("pgd", f, meta, steps=config.pgd20_steps), x, labels),
      "pgd100x10": (robustness.make_attack("pgd", f, meta, steps=config.strong_steps,
                                           restarts=config.strong_restarts),
                    x[:n_strong], labels[:n_strong]),
  }
  clean = robustness.robustness_curve(attacks["fgsm"][0], x, labels, [0.0], key=key,
                                      batch_size=config.batch_size, name="clean")
  correct = {"clean": clean.predictions[0] == labels}
  for name, (attack, images, y) in attacks.items():
    curve = robustness.robustness_curve(attack, images, y, [eps], key=key,
                                        batch_size=config.batch_size, name=name)
    correct[name] = curve.predictions[0] == y
  return {name: float(np.mean(c)) for name, c in correct.items()}, correct


def ladder_holds(accuracy: dict[str, float]) -> bool:
  """clean >= FGSM >= PGD-20 >= PGD-100x10, all on the same images."""
  values = [accuracy[a] for a in ATTACKS]
  return all(a >= b for a, b in zip(values, values[1:]))


def run(config, workdir: pathlib.Path) -> dict[str, Any]:
  """Trains (or loads) both models and evaluates them.

  Metrics: ``accuracy`` ({"standard"|"adversarial": {"clean"|"fgsm"|"pgd20"|
  "pgd100x10": value}}, each on the images it ran on),
  ``accuracy_on_strong_subset`` (all four on PGD-100x10's images),
  ``ladder_holds`` ({model: bool}, on that subset), ``epsilon``,
  ``attacks`` (steps, restarts and images of each), ``adversarial_train_seconds``
  (None when the model was loaded) and ``curve`` ({model: {epsilon: PGD-20
  accuracy}}).
  """
  workdir = pathlib.Path(workdir)
  key = jax.random.key(config.seed)
  standard = inputs_lib.trained_small_model(config.cnn_train, config.cnn_workdir, workdir, "cnn")
  *robust, train_seconds = adversarially_trained_model(config, workdir)
  test = inputs_lib.load_test_split(config.cnn_train, config.test_images)
  meta = standard[2]
  x, labels = meta.preprocess(test.images), test.labels.astype(np.int32)
  n_strong = min(config.strong_images, len(x))

  accuracy, subset, ladder, curves, arrays, saliency = {}, {}, {}, {}, {}, {}
  shown = inputs_lib.pick_test_images(test.labels, config.saliency_images)
  sweep = [0.0] + list(config.curve_epsilons)
  for name, (model, params, _) in zip(MODELS, (standard, robust)):
    f = lambda v, model=model, params=params: model.apply({"params": params}, v)
    accuracy[name], correct = evaluate(f, meta, x, labels, config, key)
    # The ladder on the images every attack saw (PGD-100x10 runs on the first ones).
    subset[name] = {a: float(np.mean(c[:n_strong])) for a, c in correct.items()}
    ladder[name] = ladder_holds(subset[name])
    LOG.info("%s model: %s (ladder %s)", name, accuracy[name], "holds" if ladder[name] else
             "VIOLATED")
    curve = robustness.robustness_curve(
        robustness.make_attack("pgd", f, meta, steps=config.pgd20_steps), x[:n_strong],
        labels[:n_strong], sweep, key=key, batch_size=config.batch_size, name=f"{name} curve")
    curves[name] = {f"{e:g}": float(a) for e, a in zip(sweep, curve.accuracy)}
    arrays.update({f"{name}_{a}_correct": c for a, c in correct.items()})
    arrays[f"{name}_curve_accuracy"] = curve.accuracy
    saliency[name] = np.asarray(attribution.input_gradients(f, x[shown], labels[shown])).sum(-1)
    arrays[f"{name}_saliency"] = saliency[name]

  wd.write_npz(workdir / "adversarial_training.npz", curve_epsilons=np.asarray(sweep),
               saliency_images=meta.deprocess(x[shown]), saliency_labels=labels[shown], **arrays)
  wd.write_figure(workdir / "robustness_adversarial_training.png",
                  robustness_plots.robustness_curves_figure(
                      {f"{n} training": (np.asarray(sweep), np.asarray(list(curves[n].values())))
                       for n in MODELS},
                      xlabel="epsilon (L-inf, pixels in [0, 1])",
                      ylabel=f"accuracy under PGD-{config.pgd20_steps}", x_scale=1.0,
                      title=f"Small CNN ({config.cnn_train.dataset}): standard vs PGD training "
                            f"at eps {config.epsilon:g}"))
  wd.write_figure(workdir / "saliency_adversarial_training.png",
                  robustness_plots.saliency_comparison_figure(
                      meta.deprocess(x[shown]),
                      {"standard": saliency["standard"], "adversarial": saliency["adversarial"]},
                      captions=[test.class_names[labels[i]] for i in shown],
                      title="Input gradient of the true class: standard vs adversarially trained"))
  return {
      "accuracy": accuracy,
      "accuracy_on_strong_subset": subset,
      "ladder_holds": ladder,
      "epsilon": config.epsilon,
      "attacks": {"fgsm": {"images": len(x)},
                  "pgd20": {"steps": config.pgd20_steps, "restarts": 1, "images": len(x)},
                  "pgd100x10": {"steps": config.strong_steps, "restarts": config.strong_restarts,
                                "images": n_strong}},
      "adversarial_train_seconds": train_seconds,
      "curve": curves,
  }


if __name__ == "__main__":
  common.main(run)
