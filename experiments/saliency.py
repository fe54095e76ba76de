"""Saliency methods side by side: rows = images, columns = attribution methods.

For MobileNetV2 on the sample photos and for the trained small CNN on a few
test images, with each image's top-1 class as the target:

* vanilla gradient (Simonyan et al. 2013, https://arxiv.org/abs/1312.6034);
* SmoothGrad of the gradient (Smilkov et al. 2017, https://arxiv.org/abs/1706.03825);
* deconvnet (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901);
* guided backprop (Springenberg et al. 2014, https://arxiv.org/abs/1412.6806);
* Grad-CAM and guided Grad-CAM (Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391);
* integrated gradients (Sundararajan et al. 2017, https://arxiv.org/abs/1703.01365);
* occlusion (Zeiler & Fergus 2014, section 4.2).

Deconvnet's rule at a rectifier ignores the forward pass, so in a network
without max pooling (MobileNetV2) its backward pass never reads the input
and the map depends on the target class only (a stride-induced grid; see Nie
et al. 2018, https://arxiv.org/abs/1805.07039). The small CNN's max pooling
makes it input-dependent through the pooling switches.

python -m experiments.saliency --config=configs/saliency.py --workdir=/tmp/jaxviz_saliency

Input-space attributions [N, H, W, C] are reduced over the channels
(``config.reduction``, Simonyan et al.'s ``max_c |a_c|`` by default), so every
method yields [N, H, W] maps at the input resolution. The npz files hold
these raw maps (occlusion keeps its sign: the mean score drop); the figure
shows occlusion's positive part (evidence for the class) and scales each map
to [0, 1] with ``normalize_maps`` (0 = the map's minimum, 1 = its
``config.percentile``-th percentile, the top clipped).
"""

from __future__ import annotations

import functools
import logging
import pathlib
import time

import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import attribution
from jaxviz import workdir as wd
from jaxviz.models import taps
from jaxviz.plotting import heatmaps

LOG = logging.getLogger(__name__)

METHODS = ("gradient", "smoothgrad", "deconvnet", "guided_backprop", "grad_cam",
           "guided_grad_cam", "integrated_gradients", "occlusion")
TITLES = {
    "gradient": "vanilla gradient",
    "smoothgrad": "SmoothGrad",
    "deconvnet": "deconvnet",
    "guided_backprop": "guided backprop",
    "grad_cam": "Grad-CAM",
    "guided_grad_cam": "guided Grad-CAM",
    "integrated_gradients": "integrated gradients",
    "occlusion": "occlusion (drop > 0)",
}
MODELS = ("mobilenet_v2", "small_cnn")


def attribution_maps(inputs: inputs_lib.ModelInputs, methods, model_config, *, reduction: str,
                     key: jax.Array) -> tuple[dict[str, np.ndarray], dict[str, float]]:
  """Raw [N, H, W] maps of each method, and the seconds each took.

  Args:
    inputs: the model and images.
    methods: names from :data:`METHODS`.
    model_config: the model's settings (Grad-CAM layer, SmoothGrad samples
      and noise, IG steps and baseline pixel value, occlusion patch, stride
      and fill pixel value, chunk sizes).
    reduction: channel reduction for [N, H, W, C] attributions.
    key: PRNG key for SmoothGrad's noise.
  """
  f, x, t = inputs.f, inputs.x, inputs.targets
  layer_fn = taps.flax_layer_fn(inputs.model, {"params": inputs.params},
                                model_config.gradcam_layer, input_shape=x.shape)
  channels = inputs.meta.input_shape[-1]
  baseline = inputs.meta.preprocess(np.full(channels, model_config.ig_baseline_pixel))  # [C]
  fill = inputs.meta.preprocess(np.full(channels, model_config.occlusion_fill_pixel))  # [C]
  reduce = functools.partial(attribution.reduce_channels, method=reduction)
  compute = {
      "gradient": lambda: attribution.saliency_map(f, x, t, reduction=reduction),
      "smoothgrad": lambda: reduce(attribution.smoothgrad(
          attribution.input_gradients, f, x, t, key=key,
          num_samples=model_config.smoothgrad_samples,
          noise_level=model_config.smoothgrad_noise, chunk_size=model_config.smoothgrad_chunk)),
      "deconvnet": lambda: attribution.saliency_map(f, x, t, reduction=reduction,
                                                    rule="deconvnet"),
      "guided_backprop": lambda: attribution.saliency_map(f, x, t, reduction=reduction,
                                                          rule="guided_backprop"),
      "grad_cam": lambda: attribution.grad_cam(layer_fn, x, t),
      "guided_grad_cam": lambda: reduce(attribution.guided_grad_cam(f, layer_fn, x, t)),
      "integrated_gradients": lambda: reduce(attribution.integrated_gradients(
          f, x, t, baseline=baseline, steps=model_config.ig_steps,
          chunk_size=model_config.ig_chunk)),
      "occlusion": lambda: attribution.occlusion(
          f, x, t, patch=model_config.occlusion_patch, stride=model_config.occlusion_stride,
          fill=fill, batch_size=model_config.occlusion_batch),
  }
  maps, seconds = {}, {}
  for method in methods:
    start = time.perf_counter()
    maps[method] = np.asarray(compute[method](), np.float32)
    seconds[method] = time.perf_counter() - start
    LOG.info("%s %s: %.1f s", inputs.name, method, seconds[method])
  return maps, seconds


def display_maps(maps: dict[str, np.ndarray], percentile: float) -> dict[str, np.ndarray]:
  """Maps as drawn: occlusion's positive part, each map scaled to [0, 1]."""
  out = {}
  for method, m in maps.items():
    if method == "occlusion":
      m = np.maximum(m, 0.0)
    out[method] = np.asarray(attribution.normalize_maps(m, percentile))
  return out


def _check_config(config) -> None:
  common.check_subset(config.methods, METHODS, "methods")
  common.check_subset(config.models, MODELS, "models")
  common.check_choice(config.reduction, attribution.REDUCTIONS, "reduction")
  common.check_percentile(config.percentile)


def _column_title(method: str, model_config) -> str:
  if method in ("grad_cam", "guided_grad_cam"):
    return f"{TITLES[method]}\n(layer {model_config.gradcam_layer})"
  return TITLES[method]


def _figure(inputs: inputs_lib.ModelInputs, shown: dict[str, np.ndarray], config, title: str):
  columns = {_column_title(m, config[inputs.name]): shown[m] for m in config.methods}
  label = (f"each map scaled to [0, 1]: 0 = its minimum, 1 = its {config.percentile:g}th "
           f"percentile (larger values clipped); channels reduced by {config.reduction}; "
           f"overlaid at alpha {config.alpha:g} on the dimmed grayscale image")
  return heatmaps.method_grid_figure(inputs.meta.deprocess(inputs.x), columns, inputs.captions,
                                     title=title, colorbar_label=label, cmap=config.cmap,
                                     alpha=config.alpha)


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``saliency_<model>.png`` and ``saliency_<model>.npz`` per model.

  Metrics: ``methods``, ``rectifiers_rewritten`` ({model: rectifiers the
  guided-backprop/deconvnet rewrite changed}), ``models`` (those run),
  ``skipped`` ({model: reason}, e.g. MobileNetV2 weights not found),
  ``targets`` ({model: top-1 class names}) and ``seconds`` ({model: {method:
  seconds}}, compilation included).
  """
  _check_config(config)
  workdir = pathlib.Path(workdir)
  methods = list(config.methods)
  key = jax.random.key(config.seed)
  rewritten, targets, seconds = {}, {}, {}
  loaded, skipped = inputs_lib.configured_inputs_or_skips(config, workdir)
  for name, inputs in loaded.items():
    model_config = config[name]
    if name == "mobilenet_v2":
      title = ("MobileNetV2 (ImageNet), target = top-1 class. Without max pooling, deconvnet's "
               "backward pass never reads the input: its map depends on the class only")
    else:
      title = f"Small CNN ({config.cnn_train.dataset}), target = predicted class"
    report = attribution.backward_rule_report(inputs.f, inputs.x, rule="guided_backprop")
    rewritten[name] = report.total
    LOG.info("%s: backward rules rewrite %d rectifiers (%s)", name, report.total, report)
    maps, seconds[name] = attribution_maps(inputs, methods, model_config,
                                           reduction=config.reduction, key=key)
    targets[name] = inputs.class_names
    wd.write_npz(workdir / f"saliency_{name}.npz", images=inputs.meta.deprocess(inputs.x),
                 targets=inputs.targets, **maps)
    fig = _figure(inputs, display_maps(maps, config.percentile), config, title)
    wd.write_figure(workdir / f"saliency_{name}.png", fig)
  return {"methods": methods, "rectifiers_rewritten": rewritten, "models": list(rewritten),
          "skipped": skipped, "targets": targets, "seconds": seconds}


if __name__ == "__main__":
  common.main(run)
