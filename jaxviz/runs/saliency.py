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

Input-space attributions [N, H, W, C] are reduced over the channels
(``config.reduction``, Simonyan et al.'s ``max_c |a_c|`` by default), so every
method yields [N, H, W] maps at the input resolution. The npz files hold
these raw maps (occlusion keeps its sign: the mean score drop); the figure
shows occlusion's positive part (evidence for the class) and scales each map
to [0, 1] with ``normalize_maps`` (0 = the map's minimum, 1 = its
``config.percentile``-th percentile, the top clipped).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
import time
from typing import Any, Callable

import jax
import numpy as np

from jaxviz import assets
from jaxviz import data
from jaxviz import validation
from jaxviz import workdir as wd
from jaxviz.attribution import cam
from jaxviz.attribution import gradients
from jaxviz.attribution import reductions
from jaxviz.attribution.integrated_gradients import integrated_gradients
from jaxviz.attribution.occlusion import occlusion
from jaxviz.attribution.smoothgrad import smoothgrad
from jaxviz.models import taps
from jaxviz.plotting import heatmaps
from jaxviz.runs import train as train_run

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
IMAGENET_FOLDER = "sample_images_imagenet"


@dataclasses.dataclass(frozen=True)
class ModelInputs:
  """One model with the images to explain.

  Attributes:
    name: ``"mobilenet_v2"`` or ``"small_cnn"``.
    model: the Flax module.
    params: its parameters.
    meta: its :class:`~jaxviz.models.meta.ModelMeta`.
    f: the model function ``x -> logits`` (one object, reused for caching).
    x: float32 inputs [N, H, W, C] in the model's input space.
    targets: int32 [N] top-1 logit index per image.
    names: N image names (file names, or test-set indices).
    labels: N row labels (image name and class).
    class_names: N target class names.
  """

  name: str
  model: Any
  params: Any
  meta: Any
  f: Callable[[jax.Array], jax.Array]
  x: np.ndarray
  targets: np.ndarray
  names: list[str]
  labels: list[str]
  class_names: list[str]


@functools.partial(jax.jit, static_argnames=("model",))
def _logits(model, params, x):
  return model.apply({"params": params}, x)


def _class_name(meta, logit_index: int) -> str:
  """The class name of a logit (its first synonym: "hotdog, hot dog" -> "hotdog")."""
  c = int(meta.class_index([logit_index])[0])
  return meta.class_names[c].split(",")[0] if c >= 0 else "background"


def _with_targets(name, model, params, meta, x, names: list[str],
                  true_labels: list[str] | None = None) -> ModelInputs:
  validation.check_model_input(x, meta)
  targets = np.asarray(np.argmax(_logits(model, params, x), axis=-1), np.int32)
  classes = [_class_name(meta, t) for t in targets]
  if true_labels is None:
    labels = [f"{n}\n{c}" for n, c in zip(names, classes)]
  else:
    labels = [f"{n} ({t})\npred: {c}" for n, t, c in zip(names, true_labels, classes)]
  f = functools.partial(model.apply, {"params": params})
  return ModelInputs(name, model, params, meta, f, x, targets, names, labels, classes)


def load_mobilenet(model_config) -> ModelInputs:
  """MobileNetV2 and its sample photos.

  ``model_config.images`` is the folder (default: the ``sample_images_imagenet``
  asset), ``files`` the file names to use (all if empty), ``max_images`` a
  limit (0 = none).

  Raises:
    assets.AssetNotFoundError: the weights or the photo folder are absent.
  """
  from jaxviz.models import registry  # pylint: disable=g-import-not-at-top
  model, params, meta = registry.load_model("mobilenet_v2", path=model_config.weights or None)
  folder = assets.find_asset(IMAGENET_FOLDER, model_config.images or None)
  images, names = data.load_image_folder(folder)
  files = list(model_config.files)
  if files:
    missing = [f for f in files if f not in names]
    if missing:
      raise ValueError(f"Images {missing} not in {folder}; available: {names}.")
    keep = [names.index(f) for f in files]
  else:
    keep = list(range(len(names)))
  if model_config.max_images:
    keep = keep[:model_config.max_images]
  x = data.prepare_for_model([images[i] for i in keep], meta)
  return _with_targets("mobilenet_v2", model, params, meta, x, [names[i] for i in keep])


def pick_test_images(labels: np.ndarray, count: int) -> np.ndarray:
  """Indices of the first test image of each class, classes in order, ``count`` of them.

  Raises:
    ValueError: ``count`` is not in [1, number of classes present].
  """
  classes, first = np.unique(labels, return_index=True)
  if not 1 <= count <= len(classes):
    raise ValueError(f"num_images must be in [1, {len(classes)}] (one image per class), got "
                     f"{count}.")
  return np.sort(first[np.argsort(classes)][:count])


def load_small_cnn(config, model_config, workdir: pathlib.Path) -> ModelInputs:
  """The trained small CNN (trained now if absent) and one test image per class."""
  model, params, meta = train_run.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                      workdir, "cnn")
  test = train_run.load_test_split(config.cnn_train)
  idx = pick_test_images(test.labels, model_config.num_images)
  x = meta.preprocess(test.images[idx])
  names = [f"test #{i}" for i in idx]
  truth = [test.class_names[test.labels[i]] for i in idx]
  return _with_targets("small_cnn", model, params, meta, x, names, truth)


def attribution_maps(inputs: ModelInputs, methods, model_config, *, reduction: str,
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
  reduce = functools.partial(reductions.reduce_channels, method=reduction)
  compute = {
      "gradient": lambda: reductions.saliency_map(f, x, t, reduction=reduction),
      "smoothgrad": lambda: reduce(smoothgrad(
          gradients.input_gradients, f, x, t, key=key,
          num_samples=model_config.smoothgrad_samples,
          noise_level=model_config.smoothgrad_noise, chunk_size=model_config.smoothgrad_chunk)),
      "deconvnet": lambda: reductions.saliency_map(f, x, t, reduction=reduction,
                                                   rule="deconvnet"),
      "guided_backprop": lambda: reductions.saliency_map(f, x, t, reduction=reduction,
                                                         rule="guided_backprop"),
      "grad_cam": lambda: cam.grad_cam(layer_fn, x, t),
      "guided_grad_cam": lambda: reduce(cam.guided_grad_cam(f, layer_fn, x, t)),
      "integrated_gradients": lambda: reduce(integrated_gradients(
          f, x, t, baseline=baseline, steps=model_config.ig_steps,
          chunk_size=model_config.ig_chunk)),
      "occlusion": lambda: occlusion(
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
    out[method] = np.asarray(reductions.normalize_maps(m, percentile))
  return out


def _check_config(config) -> None:
  unknown = [m for m in config.methods if m not in METHODS]
  if unknown or not config.methods:
    raise ValueError(f"config.methods must be a non-empty subset of {METHODS}, got "
                     f"{list(config.methods)}.")
  bad = [m for m in config.models if m not in MODELS]
  if bad or not config.models:
    raise ValueError(f"config.models must be a non-empty subset of {MODELS}, got "
                     f"{list(config.models)}.")
  if config.reduction not in reductions.REDUCTIONS:
    raise ValueError(f"config.reduction must be one of {reductions.REDUCTIONS}, got "
                     f"{config.reduction!r}.")
  if not 0 < config.percentile <= 100:
    raise ValueError(f"config.percentile must be in (0, 100], got {config.percentile}.")


def _column_title(method: str, model_config) -> str:
  if method in ("grad_cam", "guided_grad_cam"):
    return f"{TITLES[method]}\n(layer {model_config.gradcam_layer})"
  return TITLES[method]


def _figure(inputs: ModelInputs, shown: dict[str, np.ndarray], config, title: str):
  columns = {_column_title(m, config[inputs.name]): shown[m] for m in config.methods}
  label = (f"each map scaled to [0, 1]: 0 = its minimum, 1 = its {config.percentile:g}th "
           f"percentile (larger values clipped); channels reduced by {config.reduction}; "
           f"overlaid at alpha {config.alpha:g} on the dimmed grayscale image")
  return heatmaps.method_grid_figure(inputs.meta.deprocess(inputs.x), columns, inputs.labels,
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
  rewritten, targets, seconds, skipped = {}, {}, {}, {}
  for name in config.models:
    model_config = config[name]
    if name == "mobilenet_v2":
      try:
        inputs = load_mobilenet(model_config)
      except assets.AssetNotFoundError as e:
        LOG.warning("Skipping MobileNetV2: %s", e)
        skipped[name] = str(e)
        continue
      title = ("MobileNetV2 (ImageNet), target = top-1 class. Without max pooling, deconvnet's "
               "backward pass never reads the input: its map depends on the class only")
    else:
      inputs = load_small_cnn(config, model_config, workdir)
      title = f"Small CNN ({config.cnn_train.dataset}), target = predicted class"
    report = gradients.backward_rule_report(inputs.f, inputs.x, rule="guided_backprop")
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
