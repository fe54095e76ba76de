"""Class-model visualization: the image each class of a network likes best, and how good it is.

Gradient ascent of a class's pre-softmax score from a blank image (Simonyan
et al. 2013, https://arxiv.org/abs/1312.6034, figure 1), unregularized and
regularized side by side, for MobileNetV2 (ImageNet classes, the lecture's
goose, ostrich, dumbbell, cup, bell pepper, ...) and for the small
Fashion-MNIST CNN (all 10 classes):

* ``simonyan`` (unregularized): ``S_c(x) - lambda ||x||^2`` on the image
  itself, from the zero image;
* ``yosinski_<k>``: one of Yosinski et al. 2015's four regularized sets
  (https://arxiv.org/abs/1506.06579), converted from Caffe's 0-255 scale;
* ``lucid_class``: the decorrelated Fourier parameterization with Lucid's
  random pad/jitter/zoom/rotation (Olah et al. 2017,
  https://distill.pub/2017/feature-visualization/);
* ``robust_class`` (the default for MobileNetV2, regularized): the same with
  wider zooms and rotations; ``lucid_fixed_size`` (the default for the
  fixed-size small CNN): Lucid's transforms without the pad.

Every class is optimised at once (one vmapped batch, one compile per preset).
Each image is scored by the network it was made for (the target's softmax
probability, whether it is the argmax) and, for MobileNetV2, by a network it
was *not* made for, MobileNetV1 0.25 at 128 px: adversarial patterns do not
transfer; together with the share of high-frequency energy this separates a
picture of a class from a pattern that merely fools one network.

python -m experiments.class_model --config=configs/class_model.py --workdir=/tmp/jaxviz_class_model
"""

from __future__ import annotations

import difflib
import functools
import logging
import pathlib
import time

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import assets
from jaxviz import synthesis
from jaxviz import workdir as wd
from jaxviz.models import registry
from jaxviz.plotting import synthesis_plots

LOG = logging.getLogger(__name__)

MODELS = ("mobilenet_v2", "small_cnn")
TARGET_PROBABILITY = 0.9


def class_indices(names, meta) -> np.ndarray:
  """Dataset class indices of class names (an ImageNet name's first synonym; () = all)."""
  short = [n.split(",")[0].strip() for n in meta.class_names]
  if not names:
    return np.arange(meta.num_classes)
  unknown = [n for n in names if n not in short]
  if unknown:
    hints = {n: difflib.get_close_matches(n, short, n=3) for n in unknown}
    raise ValueError(f"Unknown class name(s) {unknown} for {meta.name}; close matches: {hints}.")
  return np.array([short.index(n) for n in names])


def _load(name: str, config, workdir: pathlib.Path):
  if name == "small_cnn":
    return inputs_lib.trained_small_model(config.cnn_train, config.cnn_workdir, workdir, "cnn")
  return registry.load_model(name, path=config[name].weights or None)


def _transfer_model(config):
  if not config.transfer_model:
    return None
  try:
    model, params, meta = registry.load_model(config.transfer_model)
  except assets.AssetNotFoundError as e:
    LOG.warning("No transfer network: %s", e)
    return None
  return functools.partial(model.apply, {"params": params}), meta


def synthesize(name, fn, f, meta, classes, preset_name, settings, key, transfer):
  """One preset's images for ``classes`` and their quality numbers.

  ``fn`` is the model's ``synthesis.layer_fn`` and ``f`` its logits function,
  built once per model so that every preset reuses their traces.
  """
  preset = synthesis.preset(preset_name, meta)
  if settings.steps:
    preset = preset.replace(steps=settings.steps)
  targets = meta.logit_index(classes)
  start = time.perf_counter()
  result = synthesis.ascend(fn, synthesis.Objective("logit"), targets,
                            preset.parameterize(meta, len(classes)), key, preset.config,
                            name=f"class_model {name} {preset_name}")
  seconds = time.perf_counter() - start
  images = np.asarray(result.images)
  probability, is_argmax = synthesis.class_probabilities(f, images, targets)
  low, high = meta.input_bounds
  out = {"images": images, "probability": probability, "is_argmax": is_argmax,
         "objective": result.objective,
         "high_frequency_energy": synthesis.high_frequency_energy(images),
         "in_range": bool(np.all(images >= low - 1e-6) and np.all(images <= high + 1e-6)),
         "steps": preset.config.steps, "seconds": seconds}
  if transfer is not None:
    out["transfer"] = synthesis.transfer_probabilities(transfer[0], transfer[1], images, meta,
                                                      classes)
  LOG.info("%s %s: mean p %.3f, argmax %d/%d, %.0f s", name, preset_name, probability.mean(),
           is_argmax.sum(), len(classes), seconds)
  return out


def _notes(out, transfer_name: str) -> list[str]:
  notes = []
  for i, (p, top) in enumerate(zip(out["probability"], out["is_argmax"])):
    text = f"p {p:.2f}{' top-1' if top else ' not top-1'}"
    if "transfer" in out:
      text += f"\n{transfer_name} p {out['transfer'][i]:.3f}"
    notes.append(text)
  return notes


def display_contrast(pixels: np.ndarray, meta) -> tuple[np.ndarray, int]:
  """Faint images stretched about the model's zero for display, and the factor (1: as is).

  Yosinski's sets keep the image within a few pixel levels of the zero image
  (they displayed them contrast-stretched too); a row whose largest deviation
  from the zero image (the normalisation mean, in pixels) is below 0.2 is
  shown ``k`` times stronger, ``k`` the largest integer that keeps it in [0, 1].
  """
  zero = np.asarray(meta.mean, np.float32)
  deviation = pixels - zero
  if np.abs(deviation).max() >= 0.2 or not np.any(deviation):
    return pixels, 1
  with np.errstate(divide="ignore", invalid="ignore"):
    room = np.where(deviation > 0, (1 - zero) / deviation,
                    np.where(deviation < 0, zero / -deviation, np.inf))
  factor = max(int(np.floor(room.min())), 1)
  return np.clip(zero + factor * deviation, 0, 1), factor


def _figure(name, meta, class_names, rows, settings, transfer_name):
  presets = list(rows)
  shown = [display_contrast(meta.deprocess(rows[p]["images"]), meta) for p in presets]
  images = np.stack([pixels for pixels, _ in shown])
  labels = [f"{p}{' (default)' if p == settings.regularized else ''}\n"
            f"{'unregularized' if p == settings.unregularized else 'regularized'}, "
            f"{rows[p]['steps']} steps" + (f"\nshown at {k}x contrast" if k > 1 else "")
            for p, (_, k) in zip(presets, shown)]
  titles = [list(class_names)] * len(presets)
  notes = [_notes(rows[p], transfer_name) for p in presets]
  network = {"mobilenet_v2": "MobileNetV2 (ImageNet)", "small_cnn": "small CNN"}.get(name, name)
  caption = (f"p: the class's softmax probability under {network}, the network optimised"
             + (f";\n{transfer_name} p: under {transfer_name}, which was not optimised "
                "(recognisable images transfer, adversarial patterns do not)"
                if transfer_name else ""))
  return synthesis_plots.synthesis_grid_figure(
      images, labels, titles, notes, title=f"Class-model visualization of {network}: the "
      "image each class scores highest, unregularized vs regularized", caption=caption)


def _check_config(config) -> None:
  common.check_subset(config.models, MODELS, "models")
  for name in config.models:
    settings = config[name]
    common.check_subset(settings.presets, synthesis.PRESETS, f"{name}.presets")
    for field in ("regularized", "unregularized"):
      common.check_choice(settings[field], tuple(settings.presets), f"{name}.{field}")


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``class_model_<model>.png`` and ``class_model_<model>.npz`` per model.

  The npz holds ``classes`` (dataset indices), ``class_names`` and, per
  preset ``P``: ``images_P`` [B, H, W, C] in [0, 1], ``probability_P``,
  ``is_argmax_P``, ``high_frequency_energy_P``, ``objective_P`` [steps, B]
  and, for MobileNetV2, ``transfer_P`` (probability under the transfer
  network).

  Metrics: ``target_probability`` and ``target_is_argmax`` ({model: {class:
  value}}, the regularized default), ``transfer_probability``
  ({"regularized" | "unregularized": {class: probability under
  MobileNetV1 0.25}} for the MobileNetV2 images), ``presets`` ({model:
  {preset: mean/min probability, argmax fraction, mean high-frequency
  energy, mean transfer probability, in_range, steps, seconds}}),
  ``targets_met`` ({model: every class the argmax with p >= 0.9 and every
  image in the valid range, for the default}), ``models``, ``skipped``.
  """
  _check_config(config)
  workdir = pathlib.Path(workdir)
  key = jax.random.key(config.seed)
  transfer = _transfer_model(config) if "mobilenet_v2" in config.models else None
  transfer_name = "MobileNetV1 0.25" if transfer is not None else ""
  metrics = {"target_probability": {}, "target_is_argmax": {}, "transfer_probability": {},
             "presets": {}, "targets_met": {}, "models": [], "skipped": {}}
  for name in config.models:
    settings = config[name]
    try:
      model, params, meta = _load(name, config, workdir)
    except assets.AssetNotFoundError as e:
      LOG.warning("Skipping %s: %s", name, e)
      metrics["skipped"][name] = str(e)
      continue
    classes = class_indices(settings.classes, meta)
    class_names = [meta.class_names[c].split(",")[0] for c in classes]
    model_transfer = transfer if name == "mobilenet_v2" else None
    variables = {"params": params}
    fn = synthesis.layer_fn(model, variables, None, (1,) + tuple(meta.input_shape))
    f = functools.partial(model.apply, variables)
    rows = {p: synthesize(name, fn, f, meta, classes, p, settings, key, model_transfer)
            for p in settings.presets}
    arrays = {"classes": classes, "class_names": np.asarray(class_names)}
    for p, out in rows.items():
      arrays.update({f"images_{p}": meta.deprocess(out["images"]),
                     **{f"{k}_{p}": out[k] for k in ("probability", "is_argmax", "objective",
                                                   "high_frequency_energy", "transfer")
                        if k in out}})
    wd.write_npz(workdir / f"class_model_{name}.npz", **arrays)
    wd.write_figure(workdir / f"class_model_{name}.png",
                    _figure(name, meta, class_names, rows, settings,
                            transfer_name if model_transfer else ""))
    default = rows[settings.regularized]
    metrics["target_probability"][name] = dict(zip(class_names,
                                                    default["probability"].tolist()))
    metrics["target_is_argmax"][name] = dict(zip(class_names, default["is_argmax"].tolist()))
    metrics["targets_met"][name] = bool(default["in_range"] and default["is_argmax"].all()
                                        and (default["probability"] >= TARGET_PROBABILITY).all())
    if model_transfer:
      metrics["transfer_probability"] = {
          kind: dict(zip(class_names, rows[settings[kind]]["transfer"].tolist()))
          for kind in ("regularized", "unregularized")}
    metrics["presets"][name] = {p: {
        "mean_target_probability": float(out["probability"].mean()),
        "min_target_probability": float(out["probability"].min()),
        "argmax_fraction": float(out["is_argmax"].mean()),
        "mean_high_frequency_energy": float(out["high_frequency_energy"].mean()),
        **({"mean_transfer_probability": float(out["transfer"].mean())}
           if "transfer" in out else {}),
        "in_range": out["in_range"], "steps": out["steps"], "seconds": out["seconds"],
    } for p, out in rows.items()}
    metrics["models"].append(name)
  return metrics


if __name__ == "__main__":
  common.main(run)
