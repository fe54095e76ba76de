"""Feature visualization: what a channel of each layer, shallow to deep, responds to.

The image that maximises a channel's mean activation (Olah et al. 2017,
https://distill.pub/2017/feature-visualization/), optimised with Lucid's
canonical settings (Adam 0.05, 512 steps, 128 px, random pad/jitter/zoom/
rotation), in two parameterizations side by side: the pixels themselves and
Lucid's decorrelated Fourier parameterization (1/f-scaled spectrum, colour
decorrelation, sigmoid into the valid range). The layers are block outputs
of MobileNetV2 from Lucid's canonical list (``expanded_conv_{2,...,15}``).

Gradients that die at ReLU6. A unit that does not fire passes no gradient;
a channel that is dead on the starting image stays dead and its picture
stays grey (lucid#68, distillpub/post--building-blocks#22). The second
figure takes channels of ReLU6 layers that are dead at the start (found on
the initial images, not hand-picked) and optimises them with and without
the redirected ReLU6 gradient for the first 16 steps
(:mod:`jaxviz.attribution.backward_rules`, rule ``"redirected"``).

Every image is measured: the activation it reaches relative to the highest
activation of that channel over real photos (the 9 sample photos and the 20
foolbox ImageNet samples, at the same size; >= 1 means the image drives the
channel at least as hard as the best photo), and the fraction of its
spectral energy above half the Nyquist frequency (high-frequency noise).

python -m experiments.feature_vis --config=configs/feature_vis.py --workdir=/tmp/jaxviz_feature_vis
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import assets
from jaxviz import data
from jaxviz import synthesis
from jaxviz import workdir as wd
from jaxviz.models import registry
from jaxviz.models import taps
from jaxviz.plotting import synthesis_plots
from jaxviz.synthesis import parameterizations

LOG = logging.getLogger(__name__)

MODELS = ("mobilenet_v2", "small_cnn")
NETWORKS = {"mobilenet_v2": "MobileNetV2 (ImageNet)", "small_cnn": "the small CNN"}
OBJECTIVE = synthesis.Objective("channel")


def photos_for(name: str, config, workdir: pathlib.Path, meta, size: int) -> np.ndarray:
  """Real images in the model's input space at ``size`` px: [N, size, size, C].

  MobileNetV2: the shared sample photos and the foolbox ImageNet samples;
  the small CNN: its dataset's test images.
  """
  sized = dataclasses.replace(meta, input_shape=(size, size, meta.input_shape[-1]))
  if name == "small_cnn":
    test = inputs_lib.load_test_split(config.cnn_train, config.small_cnn.num_photos)
    return data.prepare_for_model(list(test.images), sized) if (
        test.images.shape[1] != size) else meta.preprocess(test.images)
  return data.prepare_for_model(inputs_lib.reference_photos(config.mobilenet_v2.images), sized)


def dead_channels(fn, param, transforms, key, draws: int = 8) -> np.ndarray:
  """The channels whose activation is <= 0 everywhere on the initial images of ``param``.

  "Everywhere" covers ``draws`` random transformations of each initial image
  (the views the first steps see, padded to the size the model gets), so a
  channel that only the padding or a zoom wakes up is not counted as dead.
  """
  images = param.render(param.init(key))
  low, high = np.asarray(param.low), np.asarray(param.high)
  views = np.concatenate([np.asarray(transforms(jax.random.fold_in(key, d), images, low, high))
                          for d in range(draws)])
  _, activation = fn(views, None)
  peak = np.asarray(activation).reshape(-1, activation.shape[-1]).max(axis=0)
  return np.flatnonzero(peak <= 0)


def visualize(fn, channels, param, preset, key, best_photos, name: str) -> dict:
  """Images for ``channels`` with their activation ratios and high-frequency energy.

  ``best_photos``: ``synthesis.best_photo_activations`` of the same channels
  (computed once per layer and channels, shared by every parameterization).
  """
  start = time.perf_counter()
  result = synthesis.ascend(fn, OBJECTIVE, channels, param, key, preset.config, name=name)
  images = np.asarray(result.images)
  reached = synthesis.unit_activations(fn, OBJECTIVE, images, channels)
  best, best_photo = best_photos
  return {"images": images, "reached": reached, "best_photo": best, "best_photo_index":
          best_photo, "ratio": reached / best, "objective": result.objective,
          "high_frequency_energy": synthesis.high_frequency_energy(images),
          "seconds": time.perf_counter() - start}


def _note(out, i: int) -> str:
  return (f"{out['reached'][i]:.2f} = {out['ratio'][i]:.1f}x best photo\n"
          f"high-freq {out['high_frequency_energy'][i]:.2f}")


def _grid(results, rows, columns, meta, title, caption):
  """``results[(row, column)]`` holds a batch of channels; the columns of a channel side by side."""
  images, titles, notes = [], [], []
  for row in rows:
    row_images, row_titles, row_notes = [], [], []
    for i, channel in enumerate(results[(row, columns[0])]["channels"]):
      for column in columns:
        out = results[(row, column)]
        row_images.append(meta.deprocess(out["images"][i]))
        row_titles.append(f"ch {channel}, {column}")
        row_notes.append(_note(out, i))
    images.append(row_images)
    titles.append(row_titles)
    notes.append(row_notes)
  return synthesis_plots.synthesis_grid_figure(np.asarray(images), list(rows), titles, notes,
                                       title=title, caption=caption)


def _check_config(config) -> None:
  common.check_choice(config.model, MODELS, "model")
  common.check_choice(config.preset, synthesis.PRESETS, "preset")
  common.check_subset(config.parameterizations, synthesis.PARAMETERIZATIONS,
                      "parameterizations")


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``feature_vis_<model>.png``, ``feature_vis_redirect_<model>.png`` and their npz.

  ``feature_vis_<model>.npz`` holds, per layer ``L`` and parameterization
  ``P``: ``images_L_P`` [k, S, S, C] in [0, 1], ``ratio_L_P``,
  ``reached_L_P``, ``best_photo_L_P``, ``high_frequency_energy_L_P``,
  ``objective_L_P`` [steps, k]; ``feature_vis_redirect_<model>.npz`` the
  same per ReLU layer ``L`` and ``plain`` / ``redirected``.

  Metrics: ``activation_ratio`` ({"layer/channel": reached / best real
  photo}, default parameterization with the redirect),
  ``high_frequency_energy`` ({parameterization: mean fraction}),
  ``activation_ratio_by_parameterization`` ({parameterization:
  {"layer/channel": ratio}}), ``redirect`` ({"layer/channel": {"plain": ratio,
  "redirected": ratio}}, channels dead at the start), ``targets_met``
  (every default channel >= its best photo; Fourier below pixel in
  high-frequency energy), ``seconds``, ``skipped``.
  """
  _check_config(config)
  workdir = pathlib.Path(workdir)
  name = config.model
  try:
    if name == "small_cnn":
      model, params, meta = inputs_lib.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                           workdir, "cnn")
    else:
      model, params, meta = registry.load_model(name, path=config.mobilenet_v2.weights or None)
  except assets.AssetNotFoundError as e:
    LOG.warning("Skipping %s: %s", name, e)
    return {"skipped": {name: str(e)}}
  settings = config[name]
  preset = synthesis.preset(config.preset, meta)
  if config.steps:
    preset = preset.replace(steps=config.steps)
  size = config.size or preset.size or meta.input_shape[0]
  photos = photos_for(name, config, workdir, meta, size)
  variables = {"params": params}
  key = jax.random.key(config.seed)
  channels = np.asarray(settings.channels)
  shape = (1, size, size, meta.input_shape[-1])
  taps.check_layer_names(model, variables, shape,
                         list(settings.layers) + list(settings.redirect_layers))
  default = config.parameterizations[0]
  layer_fns = {}  # one function per layer: a second use hits the compilation cache

  def fn_of(layer):
    if layer not in layer_fns:
      layer_fns[layer] = synthesis.layer_fn(model, variables, layer, shape)
    return layer_fns[layer]

  results = {}
  for layer in settings.layers:
    fn = fn_of(layer)
    best_photos = synthesis.best_photo_activations(fn, OBJECTIVE, photos, channels)
    for kind in config.parameterizations:
      param = parameterizations.make(kind, meta, len(channels), size=size)
      out = visualize(fn, channels, param, preset, key, best_photos,
                      f"feature_vis {layer} {kind}")
      results[(layer, kind)] = {**out, "channels": channels}
      LOG.info("%s %s: ratios %s", layer, kind, np.round(out["ratio"], 2).tolist())

  redirect = {}
  for layer in settings.redirect_layers:
    fn = fn_of(layer)
    param = parameterizations.make(default, meta, settings.redirect_channels,
                                             size=size)
    dead = dead_channels(fn, param, preset.config.transforms, key)[:settings.redirect_channels]
    if len(dead) < settings.redirect_channels:
      LOG.warning("%s: only %d channel(s) dead at the start; no redirect panel.", layer,
                  len(dead))
      continue
    best_photos = synthesis.best_photo_activations(fn, OBJECTIVE, photos, dead)
    for kind, steps in (("plain", 0), ("redirected", preset.config.redirect_steps)):
      without = preset.replace(redirect_steps=steps)
      out = visualize(fn, dead, param, without, key, best_photos, f"feature_vis {layer} {kind}")
      redirect[(layer, kind)] = {**out, "channels": dead}

  arrays = {"channels": channels}
  for (layer, kind), out in results.items():
    for field in ("ratio", "reached", "best_photo", "high_frequency_energy", "objective"):
      arrays[f"{field}_{inputs_lib.file_stem(layer)}_{kind}"] = out[field]
    arrays[f"images_{inputs_lib.file_stem(layer)}_{kind}"] = meta.deprocess(out["images"])
  wd.write_npz(workdir / f"feature_vis_{name}.npz", **arrays)
  redirect_arrays = {}
  for (layer, kind), out in redirect.items():
    stem = f"{inputs_lib.file_stem(layer)}_{kind}"
    redirect_arrays[f"channels_{stem}"] = out["channels"]
    redirect_arrays[f"images_{stem}"] = meta.deprocess(out["images"])
    for field in ("ratio", "reached", "best_photo", "objective"):
      redirect_arrays[f"{field}_{stem}"] = out[field]
  if redirect_arrays:
    wd.write_npz(workdir / f"feature_vis_redirect_{name}.npz", **redirect_arrays)

  caption = ("under each image: the channel's mean activation reached, and as a multiple of "
             "its highest activation over real photos at the same size;\nhigh-freq: the fraction "
             "of its spectral energy above half the Nyquist frequency")
  wd.write_figure(workdir / f"feature_vis_{name}.png", _grid(
      results, list(settings.layers), list(config.parameterizations), meta,
      f"Feature visualization of {NETWORKS.get(name, name)}, shallow (top) to deep layers:\n"
      f"{' vs '.join(config.parameterizations)} parameterization, {preset.config.steps} steps",
      caption))
  if redirect:
    wd.write_figure(workdir / f"feature_vis_redirect_{name}.png", _grid(
        redirect, list(settings.redirect_layers), ["plain", "redirected"], meta,
        f"{NETWORKS.get(name, name)}: channels of ReLU6 layers dead on the starting image "
        f"({default}),\nplain gradient vs the redirected ReLU gradient for the first "
        f"{preset.config.redirect_steps} steps",
        caption))

  key_of = lambda layer, channel: f"{layer}/{int(channel)}"
  ratio_by = {kind: {key_of(layer, c): float(r) for (layer, k), out in results.items()
                     if k == kind for c, r in zip(out["channels"], out["ratio"])}
              for kind in config.parameterizations}
  energy = {kind: float(np.mean([out["high_frequency_energy"] for (_, k), out in results.items()
                                 if k == kind])) for kind in config.parameterizations}
  redirect_ratios = {}
  for (layer, kind), out in redirect.items():
    for c, r in zip(out["channels"], out["ratio"]):
      redirect_ratios.setdefault(key_of(layer, c), {})[kind] = float(r)
  met = {"every_channel_reaches_best_photo": bool(min(ratio_by[default].values()) >= 1.0)}
  if {"fourier", "pixel"} <= set(energy):
    met["fourier_less_high_frequency_than_pixel"] = bool(energy["fourier"] < energy["pixel"])
  return {
      "activation_ratio": ratio_by[default],
      "high_frequency_energy": energy,
      "activation_ratio_by_parameterization": ratio_by,
      "redirect": redirect_ratios,
      "targets_met": met,
      "seconds": {f"{layer} {kind}": out["seconds"] for (layer, kind), out in
                  {**results, **redirect}.items()},
      "skipped": {},
  }


if __name__ == "__main__":
  common.main(run)
