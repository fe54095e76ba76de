"""Neural style transfer (Gatys et al. 2016) on MobileNetV2, with the evidence for its settings.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016. The Tuebingen photo in the styles of Starry Night, The
Scream, Shipwreck of the Minotaur and Matisse's Woman with a Hat, all four in
one batched (vmapped) L-BFGS run, with the settings chosen for MobileNetV2
(:mod:`jaxviz.style.presets`, ``"mobilenet_v2"``), then:

* a content/style weight sweep: one batched run over every (style, content
  weight) pair (the loss weights are traced values: one compilation);
* the remedies side by side, each a separate batched run over the four
  styles: style layers at block outputs (the residual sums) or at the ReLU6
  expansions, SWAG's softmax (Wang et al. CVPR 2021,
  https://arxiv.org/abs/2104.05623) and Lucid's decorrelated Fourier
  parameterization.

Every result is judged by a network that was not optimised: the Gram style
distance of the 8-bit result to its style image measured by MobileNetV1 0.25
at 128x128 (:class:`jaxviz.style.StyleJudge`), at the start (the content
image) and at the end, so that a stylisation that only fools MobileNetV2 is
caught.

python -m experiments.style_transfer --config=configs/style_transfer.py --workdir=/tmp/jaxviz_style
"""

from __future__ import annotations

import io
import logging
import pathlib
import time

import jax
import numpy as np
import PIL.Image

from experiments import common
from jaxviz import assets
from jaxviz import data
from jaxviz import style
from jaxviz import workdir as wd
from jaxviz.models import SmallCNN
from jaxviz.models import random_params
from jaxviz.models import registry
from jaxviz.models.meta import ModelMeta
from jaxviz.plotting import synthesis_plots

LOG = logging.getLogger(__name__)

MODELS = ("mobilenet_v2", "vgg19", "random_cnn")
JUDGES = ("mobilenet_v1", "random_cnn")
SOURCES = ("files", "skimage")
STYLE_ASSET = "style_images"
# Remedy modifiers: "<preset or 'main'>[+swag][+fourier][+adam]".
MODIFIERS = {"swag": {"swag": True}, "fourier": {"parameterization": "fourier"},
             "adam": {"optimizer": "adam"}}
TITLES = {"mobilenet_v2": "ReLU6 expansions", "mobilenet_v2_blocks": "block outputs",
          "main": "main settings", "swag": "SWAG", "fourier": "Fourier", "adam": "Adam"}


def random_cnn(size: int, seed: int):
  """A tiny random CNN on ``size``x``size`` RGB in [-1, 1] (the smoke runs' model and judge)."""
  model = SmallCNN(num_classes=2, channels=(8, 16), hidden=8)
  params = random_params(model, (1, size, size, 3), seed=seed, kernel_gain=np.sqrt(2.0))
  meta = ModelMeta(name="random_cnn", input_shape=(size, size, 3), mean=(0.5,) * 3,
                   std=(0.5,) * 3, class_names=("a", "b"))
  return model, params, meta


def load_network(config):
  """``(model, params, meta)`` of ``config.model``."""
  if config.model == "random_cnn":
    return random_cnn(config.image_size, config.seed)
  return registry.load_model(config.model, path=config.weights or None)


def load_judge(config) -> style.StyleJudge:
  """The held-out network of ``config.judge``."""
  if config.judge == "random_cnn":
    model, params, meta = random_cnn(config.image_size, config.seed + 1)
    return style.StyleJudge(model, params, meta, ("conv1", "conv2"))
  return style.load_style_judge(config.judge)


def load_pictures(config) -> tuple[np.ndarray, list[np.ndarray]]:
  """The content and style pictures (uint8 [H, W, 3]) of the config."""
  if config.source == "skimage":
    return (data.skimage_image(config.content),
            [data.skimage_image(name) for name in config.styles])
  folder = assets.find_asset(STYLE_ASSET, config.images or None)
  paths = [folder / name for name in (config.content,) + tuple(config.styles)]
  pictures = [data.load_image(p) for p in paths]
  return pictures[0], pictures[1:]


def style_names(config) -> list[str]:
  return [pathlib.Path(name).stem for name in config.styles]


def base_config(config) -> style.StyleConfig:
  """The preset with the config's overrides (layers, iterations, optimizer)."""
  changes = {}
  if config.content_layers:
    changes["content_layers"] = tuple(tuple(pair) for pair in config.content_layers)
  if config.style_layers:
    changes["style_layers"] = tuple(tuple(pair) for pair in config.style_layers)
  if config.iterations:
    changes["iterations"] = config.iterations
  if config.optimizer:
    changes["optimizer"] = config.optimizer
  return style.preset(config.preset, **changes)


def parse_remedy(spec: str) -> tuple[str, list[str]]:
  """``"mobilenet_v2_blocks+swag"`` -> ``("mobilenet_v2_blocks", ["swag"])``, validated."""
  name, *modifiers = spec.split("+")
  if name != "main" and name not in style.PRESETS:
    raise ValueError(f"Remedy {spec!r}: {name!r} is neither 'main' nor a preset "
                     f"{sorted(style.PRESETS)}.")
  unknown = [m for m in modifiers if m not in MODIFIERS]
  if unknown:
    raise ValueError(f"Unknown remedy modifier(s) {unknown} in {spec!r}; known: "
                     f"{sorted(MODIFIERS)}.")
  return name, modifiers


def remedy_config(spec: str, main: style.StyleConfig, iterations: int, features,
                  images: style.StyleImages) -> style.StyleConfig:
  """``"mobilenet_v2_blocks+swag"`` -> that preset with SWAG, for ``iterations`` steps.

  SWAG changes the features' scale, so its weights are calibrated again on
  the images (:func:`jaxviz.style.calibrate`, the procedure that made the
  presets' weights); the other remedies keep the weights.
  """
  name, modifiers = parse_remedy(spec)
  changes = {"iterations": iterations}
  for modifier in modifiers:
    changes.update(MODIFIERS[modifier])
  config = (main if name == "main" else style.preset(name)).replace(**changes)
  if config.swag:
    config = style.calibrate(features, config, images.content, images.styles)
  return config


def remedy_title(spec: str) -> str:
  name, *modifiers = spec.split("+")
  return " + ".join([TITLES.get(name, name)] + [TITLES[m] for m in modifiers])


def png_bytes(pixels: np.ndarray) -> bytes:
  """An 8-bit PNG file of ``pixels`` uint8 [H, W, 3]."""
  buffer = io.BytesIO()
  PIL.Image.fromarray(pixels).save(buffer, format="PNG")
  return buffer.getvalue()


def grid_figure(images, row_labels, titles, notes, *, title: str, caption: str,
                width: float = 2.4):
  """The synthesis package's labelled grid, sized to the images' aspect ratio.

  ``images`` [R, C, H, W, 3] in [0, 1] (NaN panels are left empty); the rest
  as :func:`jaxviz.plotting.synthesis_plots.synthesis_grid_figure`.
  """
  images = np.asarray(images, np.float32)
  rows, cols, height, wide = images.shape[:4]
  fig = synthesis_plots.synthesis_grid_figure(images, row_labels, titles, notes, title=title,
                                      caption=caption, cell=width)
  fig.set_size_inches(width * cols + 0.5, rows * (width * height / wide + 0.65) + 0.7)
  return fig


def _check_config(config) -> None:
  common.check_choice(config.model, MODELS, "model")
  common.check_choice(config.judge, JUDGES, "judge")
  common.check_choice(config.source, SOURCES, "source")
  if not config.styles:
    raise ValueError("config.styles must name at least one style image.")
  common.check_choice(config.preset, sorted(style.PRESETS), "preset")
  unknown = [s for s in config.sweep.styles if s not in config.styles]
  if unknown:
    raise ValueError(f"config.sweep.styles {unknown} must be among config.styles.")
  for spec in config.remedies.names:
    parse_remedy(spec)


def _terms(losses: dict[str, np.ndarray], names) -> dict[str, dict[str, float]]:
  return {name: {term: float(values[i]) for term, values in losses.items()}
          for i, name in enumerate(names)}


def _note(result: style.StyleResult, distances: dict[str, np.ndarray], i: int) -> str:
  ratio = result.loss_start["style"][i] / result.loss_end["style"][i]
  return (f"style loss / {ratio:.0f}\nheld-out {distances['start'][i]:.3f} -> "
          f"{distances['end'][i]:.3f}")


def _transfer(features, images: style.StyleImages, meta, config: style.StyleConfig, key,
              judge: style.StyleJudge, name: str, *, loss_weights=None, style_index=None):
  """One batched run and its held-out distances ({"start": [S], "end": [S]})."""
  styles = images.styles if style_index is None else images.styles[style_index]
  style_pixels = (images.style_pixels if style_index is None
                  else images.style_pixels[style_index])
  result = style.style_transfer(features, images.content, styles, meta, key, config,
                                loss_weights=loss_weights, name=name)
  distances = {"start": judge(style.to_uint8(result.initial, meta), style_pixels),
               "end": judge(result.pixels, style_pixels)}
  LOG.info("%s: %.2f iterations/s; held-out %s -> %s", name, result.iterations_per_second,
           np.round(distances["start"], 4), np.round(distances["end"], 4))
  return result, distances


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``style_transfer.png``, ``style_sweep.png``, ``style_remedies.png`` and their npz.

  Each result is also an 8-bit PNG, ``result_<style>.png``.

  Metrics: ``loss_start`` and ``loss_end`` ({style: {term: value}}, terms
  :data:`jaxviz.style.TERMS`: unweighted content, style, TV and the weighted
  total), ``heldout_style_distance`` ({style: {"start", "end"}}),
  ``iterations_per_second`` (of the batched main run, compilation excluded),
  ``style_loss_ratio`` ({style: start / end}), ``targets_met`` (every style
  loss falls >= 10x and every held-out distance falls), ``sweep`` and
  ``remedies`` (their losses and held-out distances), ``settings`` (the
  StyleConfig used), ``image_shape``, ``seconds``, ``skipped`` (an asset was
  not found: the model's or the judge's weights, or the pictures).
  """
  _check_config(config)
  workdir = pathlib.Path(workdir)
  start_time = time.time()
  try:
    model, params, meta = load_network(config)
    judge = load_judge(config)
    content, pictures = load_pictures(config)
  except assets.AssetNotFoundError as e:  # the network, the judge's weights or the pictures
    LOG.warning("Skipping %s: %s", config.model, e)
    return {"skipped": {config.model: str(e)}}
  images = style.prepare_style_images(content, pictures, meta, config.image_size)
  names = style_names(config)
  key = jax.random.key(config.seed)
  main = base_config(config)
  bases = [main] + [style.preset(parse_remedy(spec)[0]) for spec in config.remedies.names
                    if parse_remedy(spec)[0] != "main"]
  layers = tuple(dict.fromkeys(n for c in bases for n in c.layers))
  features = style.LayerFeatures(model, params, layers, images.content.shape)
  remedies = {spec: remedy_config(spec, main, config.remedies.iterations, features, images)
              for spec in config.remedies.names}

  # The four styles in one batched run.
  result, distances = _transfer(features, images, meta, main, key, judge, "style_transfer")
  wd.write_npz(workdir / "style_transfer.npz", results=result.pixels,
               content=images.content_pixels, styles=images.style_pixels,
               history=result.history)
  for name, pixels in zip(names, result.pixels):
    wd.write_bytes(workdir / f"result_{name}.png", png_bytes(pixels))
  grid = [[meta.deprocess(images.content[0])] + list(meta.deprocess(images.styles)),
          [meta.deprocess(result.initial[0])] + list(meta.deprocess(result.images))]
  fig = grid_figure(
      grid, ["inputs", "results"],
      [[f"content: {pathlib.Path(config.content).stem}"] + [f"style: {n}" for n in names],
       [f"start ({main.init})"] + ["result"] * len(names)],
      [[""] * (len(names) + 1), [""] + [_note(result, distances, i) for i in range(len(names))]],
      title=f"Style transfer on {config.model} ({main.optimizer}, {main.iterations} "
      "iterations, all styles in one batched run)",
      caption="style loss / N: the style loss fell N-fold; held-out: Gram style distance to "
      f"the style image measured by {config.judge} (not optimised), start -> end")
  wd.write_figure(workdir / "style_transfer.png", fig)

  # The content/style weight sweep: every (style, content weight) in one batched run.
  sweep_styles = [config.styles.index(s) for s in config.sweep.styles]
  weights = [(cw, main.style_weight, main.tv_weight) for cw in config.sweep.content_weights]
  index = np.repeat(sweep_styles, len(weights))
  sweep_config = main.replace(iterations=config.sweep.iterations)
  swept, swept_distances = _transfer(features, images, meta, sweep_config, key, judge,
                                     "style_sweep", loss_weights=weights * len(sweep_styles),
                                     style_index=index)
  shape = (len(sweep_styles), len(weights))
  wd.write_npz(workdir / "style_sweep.npz", results=swept.pixels.reshape(
      shape + swept.pixels.shape[1:]), content_weights=np.asarray(config.sweep.content_weights))
  fig = grid_figure(
      meta.deprocess(swept.images).reshape(shape + swept.images.shape[1:]),
      [names[i] for i in sweep_styles],
      [[f"content weight {cw:g}" for cw in config.sweep.content_weights]] * shape[0],
      np.asarray([_note(swept, swept_distances, i) for i in range(index.size)],
                 object).reshape(shape).tolist(),
      title=f"Content weight sweep (style weight {main.style_weight:g}, TV "
      f"{main.tv_weight:g}, {sweep_config.iterations} iterations; one batched run)",
      caption="larger content weights keep more of the photo; held-out: Gram style distance "
      f"measured by {config.judge}")
  wd.write_figure(workdir / "style_sweep.png", fig)

  # The remedies side by side.
  remedy_metrics, remedy_images = {}, {}
  for spec, remedy in remedies.items():
    out, out_distances = _transfer(features, images, meta, remedy, key, judge,
                                   f"remedy {spec}")
    remedy_images[spec] = (out, out_distances)
    remedy_metrics[spec] = {
        name: {"style_loss_ratio": float(out.loss_start["style"][i] / out.loss_end["style"][i]),
               "content_loss_end": float(out.loss_end["content"][i]),
               "heldout_end": float(out_distances["end"][i])} for i, name in enumerate(names)}
    remedy_metrics[spec]["iterations_per_second"] = out.iterations_per_second
  if remedies:
    specs = list(remedies)
    wd.write_npz(workdir / "style_remedies.npz",
                 **{s.replace("+", "_"): remedy_images[s][0].pixels for s in specs})
    fig = grid_figure(
        np.asarray([[meta.deprocess(remedy_images[s][0].images[i]) for s in specs]
                    for i in range(len(names))]),
        names, [[remedy_title(s) for s in specs]] * len(names),
        [[_note(*remedy_images[s], i) for s in specs] for i in range(len(names))],
        title=f"Remedies on {config.model} ({config.remedies.iterations} iterations each)",
        caption=f"held-out: Gram style distance measured by {config.judge} (lower is closer "
        "to the style); SWAG: softmax over each layer's positions and channels")
    wd.write_figure(workdir / "style_remedies.png", fig)

  ratio = result.loss_start["style"] / result.loss_end["style"]
  heldout = {name: {"start": float(distances["start"][i]), "end": float(distances["end"][i])}
             for i, name in enumerate(names)}
  return {
      "loss_start": _terms(result.loss_start, names),
      "loss_end": _terms(result.loss_end, names),
      "heldout_style_distance": heldout,
      "iterations_per_second": result.iterations_per_second,
      "compile_seconds": result.compile_seconds,
      "style_loss_ratio": {name: float(ratio[i]) for i, name in enumerate(names)},
      "targets_met": bool(np.all(ratio >= 10) and all(h["end"] < h["start"]
                                                       for h in heldout.values())),
      "sweep": {"content_weights": list(config.sweep.content_weights),
                "styles": [names[i] for i in sweep_styles],
                "style_loss_end": swept.loss_end["style"].reshape(shape).tolist(),
                "content_loss_end": swept.loss_end["content"].reshape(shape).tolist(),
                "heldout_end": swept_distances["end"].reshape(shape).tolist()},
      "remedies": remedy_metrics,
      "settings": repr(main),
      "image_shape": list(images.content.shape[1:3]),
      "seconds": time.time() - start_time,
      "skipped": {},
  }


if __name__ == "__main__":
  common.main(run)
