"""What do a layer's strongest channels respond to? Guided backprop of internal units.

For a few images and a few layers from shallow to deep, each image's top-k
channels (largest mean activation over the spatial positions, computed for
that image) are visualised by the guided-backprop gradient of the channel's
mean activation with respect to the input (Springenberg et al. 2014,
https://arxiv.org/abs/1412.6806, figures 5-6 of the paper; the rule is
configurable: ``"deconvnet"`` gives Zeiler & Fergus 2014,
https://arxiv.org/abs/1311.2901).

Each panel shows the signed gradient as an image, as in the paper: scaled by
the ``config.percentile``-th percentile of its absolute value (over pixels
and colour channels together), clipped to [-1, 1] and mapped to [0, 1], so
mid-gray is a zero gradient and colours keep their RGB meaning.

What to expect: shallow channels give distinct oriented-edge and texture
patterns over the whole image; in deep layers the guided-backprop pictures of
different channels look almost alike (an edge-map reconstruction of the
image), the known insensitivity of guided backprop to the unit it explains
(Nie et al. 2018, https://arxiv.org/abs/1805.07039; Adebayo et al. 2018,
https://arxiv.org/abs/1810.03292).

python -m experiments.neuron --config=configs/neuron.py --workdir=/tmp/jaxviz_neuron
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import attribution
from jaxviz import workdir as wd
from jaxviz.attribution import gradients
from jaxviz.models import taps
from jaxviz.plotting import heatmaps

LOG = logging.getLogger(__name__)

MODELS = ("mobilenet_v2", "small_cnn")


def signed_display(grads: np.ndarray, percentile: float) -> np.ndarray:
  """Signed gradients [..., H, W, C] -> images in [0, 1], 0.5 = zero gradient.

  One scale per image (the ``percentile`` of ``|grad|`` over its pixels and
  channels), so the colour balance of an RGB gradient is kept.
  """
  grads = np.asarray(grads, np.float32)
  *lead, h, w, c = grads.shape
  flat = grads.reshape(*lead, h, w * c)
  return np.asarray(attribution.normalize_maps(flat, percentile, signed=True)).reshape(grads.shape)


def layer_visualisations(inputs: inputs_lib.ModelInputs, layers, k: int, rule: str) -> dict:
  """Top-k channels of each layer and their input-space visualisations.

  Args:
    inputs: the model and images [N, H, W, C].
    layers: layer names.
    k: channels per layer and image.
    rule: backward rule (see :mod:`jaxviz.attribution.backward_rules`).

  Returns:
    ``{layer: {"channels": int [N, k], "means": [N, k], "grads": [N, k, H, W, C],
    "rewritten": number of rectifiers the rule rewrote}}``.
  """
  variables = {"params": inputs.params}
  taps.check_layer_names(inputs.model, variables, inputs.x.shape, list(layers))
  out = {}
  for layer in layers:
    layer_fn = taps.flax_layer_fn(inputs.model, variables, layer)
    channels, means = attribution.top_channels(layer_fn, inputs.x, k)
    neurons = [attribution.Neuron(np.asarray(channels[:, n])) for n in range(k)]
    grads = attribution.neuron_gradients(layer_fn, inputs.x, neurons, rule=rule)
    report = (gradients.prepare(layer_fn, rule, inputs.x, None).report
              if rule != "gradient" else attribution.RewriteReport())
    out[layer] = {"channels": np.asarray(channels), "means": np.asarray(means),
                  "grads": np.asarray(grads, np.float32), "rewritten": report.total}
    LOG.info("%s %s: top channels %s", inputs.name, layer, out[layer]["channels"].tolist())
  return out


def _check_config(config) -> None:
  common.check_subset(config.models, MODELS, "models")
  common.check_choice(config.rule, attribution.RULES, "rule")
  common.check_percentile(config.percentile)
  for name in config.models:
    if not config[name].layers:
      raise ValueError(f"config.{name}.layers must name at least one layer.")


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``neuron_<model>_<image>.png`` per image and ``neuron_<model>.npz`` per model.

  The npz holds ``images`` [N, H, W, C] in [0, 1], ``targets``, ``layers``
  and, per layer ``L`` (``/`` written as ``_``): ``grads_L`` [N, k, H, W, C]
  (raw signed gradients), ``channels_L`` [N, k] and ``means_L`` [N, k].

  Metrics: ``layers`` ({model: [layer names]}), ``channels`` ({model:
  {layer: {image: top-k channels}}}), ``rectifiers_rewritten`` ({model:
  {layer: rectifiers rewritten}}; the rewrite covers the whole model, so the
  count is the model's), ``models``, ``skipped`` ({model: reason}).
  """
  _check_config(config)
  workdir = pathlib.Path(workdir)
  layers_out, channels_out, rewritten = {}, {}, {}
  caption = (f"{config.rule.replace('_', ' ')} of each channel's mean activation w.r.t. the "
             f"input; signed: mid-gray = 0, each panel scaled by its {config.percentile:g}th "
             "percentile of |gradient|")
  loaded, skipped = inputs_lib.configured_inputs_or_skips(config, workdir)
  for name, inputs in loaded.items():
    layers = list(config[name].layers)
    found = layer_visualisations(inputs, layers, config[name].top_k, config.rule)
    images = inputs.meta.deprocess(inputs.x)
    arrays = {"images": images, "targets": inputs.targets, "layers": np.asarray(layers)}
    for layer, v in found.items():
      for field in ("grads", "channels", "means"):
        arrays[f"{field}_{inputs_lib.file_stem(layer)}"] = v[field]
    wd.write_npz(workdir / f"neuron_{name}.npz", **arrays)

    panels = np.stack([signed_display(found[layer]["grads"], config.percentile)
                       for layer in layers], axis=1)  # [N, L, k, H, W, C]
    channels = np.stack([found[layer]["channels"] for layer in layers], axis=1)  # [N, L, k]
    means = np.stack([found[layer]["means"] for layer in layers], axis=1)
    for i, image_name in enumerate(inputs.names):
      title = (f"{name}: {image_name} (top-1: {inputs.class_names[i]}); "
               f"top-{config[name].top_k} channels per layer by mean activation")
      fig = heatmaps.neuron_grid_figure(images[i], panels[i], layers, channels[i],
                                        values=means[i], title=title, caption=caption)
      wd.write_figure(workdir / f"neuron_{name}_{inputs_lib.file_stem(image_name)}.png", fig)
    layers_out[name] = layers
    channels_out[name] = {layer: {n: found[layer]["channels"][i].tolist()
                                  for i, n in enumerate(inputs.names)} for layer in layers}
    rewritten[name] = {layer: found[layer]["rewritten"] for layer in layers}
  return {"layers": layers_out, "channels": channels_out, "rectifiers_rewritten": rewritten,
          "models": list(layers_out), "skipped": skipped}


if __name__ == "__main__":
  common.main(run)
