"""Weights as images: small-CNN filters, linear class templates, MobileNetV2 filters.

python -m experiments.weights --config=configs/weights.py --workdir=/tmp/weights
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from experiments import common
from experiments import inputs
from jaxviz import assets
from jaxviz import training
from jaxviz import workdir as wd
from jaxviz.inspect import weights
from jaxviz.models import registry
from jaxviz.plotting import inspect_plots

LOG = logging.getLogger(__name__)


def template_correlations(templates: np.ndarray, images: np.ndarray,
                          labels: np.ndarray) -> np.ndarray:
  """Pearson correlation of each class template with its class's mean-image contrast.

  The contrast of class k is ``mean(images of k) - mean(all images)``: what
  distinguishes the class on average. A template that "looks like the class"
  correlates positively with it.

  Args:
    templates: [K, H, W, C] class templates.
    images: [N, H, W, C] images (any scale).
    labels: int [N] in [0, K).

  Returns:
    float [K].
  """
  x = images.reshape(len(images), -1).astype(np.float64)
  overall = x.mean(axis=0)
  out = []
  for k, t in enumerate(templates.reshape(len(templates), -1)):
    contrast = x[labels == k].mean(axis=0) - overall
    out.append(np.corrcoef(t, contrast)[0, 1])
  return np.asarray(out)


def _mobilenet_filters(config, workdir: pathlib.Path) -> dict:
  try:
    _, params, _ = registry.load_model("mobilenet_v2", path=config.mobilenet_weights or None)
  except assets.AssetNotFoundError as e:
    LOG.warning("Skipping the MobileNetV2 filters: %s", e)
    return {"status": f"skipped: {e}"}
  arrays = {}
  for layer, per_channel, title in (
      ("Conv", False, "MobileNetV2 first conv: 32 RGB 3x3 filters (stride 2)"),
      ("expanded_conv/depthwise", False, "MobileNetV2 expanded_conv/depthwise: 32 3x3 filters")):
    kernel = weights.layer_kernel(params, layer)
    filters = np.asarray(weights.filter_grid(kernel, per_input_channel=per_channel))
    name = layer.replace("/", "_")
    arrays[f"mobilenet_{name}_kernel"] = np.asarray(kernel)
    arrays[f"mobilenet_{name}_filters"] = filters
    wd.write_figure(workdir / f"mobilenet_{name}_filters.png",
                    inspect_plots.filters_figure(filters, title=title))
  wd.write_npz(workdir / "mobilenet_weights.npz", **arrays)
  return {"status": "ok", "first_conv_kernel_shape": list(arrays["mobilenet_Conv_kernel"].shape)}


def run(config, workdir: pathlib.Path) -> dict:
  """Writes the filter / template figures, ``weights.npz`` and returns the metrics.

  Metrics: ``linear_test_accuracy``, ``template_correlation`` (per class, see
  :func:`template_correlations`) and its mean, the kernel shapes, and
  ``mobilenet`` (``status`` "ok" or "skipped: <reason>").
  """
  workdir = pathlib.Path(workdir)
  _, cnn_params, _ = inputs.trained_small_model(config.cnn_train, config.cnn_workdir, workdir,
                                                "cnn")
  linear, linear_params, linear_meta = inputs.trained_small_model(
      config.linear_train, config.linear_workdir, workdir, "linear")

  conv1 = np.asarray(weights.layer_kernel(cnn_params, "conv1"))
  conv2 = np.asarray(weights.layer_kernel(cnn_params, "conv2"))
  conv1_filters = np.asarray(weights.filter_grid(conv1))
  conv2_slices = np.asarray(weights.filter_grid(conv2, per_input_channel=True))
  shown = min(config.max_filters, conv2.shape[-1])
  wd.write_figure(workdir / "cnn_conv1_filters.png", inspect_plots.filters_figure(
      conv1_filters, title=f"Small CNN conv1: {conv1.shape[-1]} filters {conv1.shape[0]}x"
      f"{conv1.shape[1]} on the gray input"))
  wd.write_figure(workdir / "cnn_conv2_filters.png", inspect_plots.filter_slices_figure(
      conv2_slices[:shown], title=f"Small CNN conv2: first {shown} of {conv2.shape[-1]} filters, "
      f"one {conv2.shape[0]}x{conv2.shape[1]} slice per input channel"))

  kernel = np.asarray(weights.layer_kernel(linear_params, "logits"))
  templates = np.asarray(weights.class_templates(kernel, linear_meta.input_shape))
  test = inputs.load_test_split(config.linear_train)
  x = linear_meta.preprocess(test.images)
  accuracy = float(np.mean(training.predict_labels(linear, linear_params, x) == test.labels))
  corr = template_correlations(templates, x, test.labels)
  fig = inspect_plots.class_templates_figure(
      templates, linear_meta.class_names,
      title=f"Linear softmax class templates (weights reshaped to {linear_meta.input_shape[:2]}; "
      f"test accuracy {accuracy:.3f})")
  wd.write_figure(workdir / "linear_class_templates.png", fig)
  wd.write_npz(workdir / "weights.npz", cnn_conv1_kernel=conv1, cnn_conv1_filters=conv1_filters,
               cnn_conv2_kernel=conv2, cnn_conv2_slices=conv2_slices, linear_kernel=kernel,
               linear_templates=templates, template_correlation=corr)

  mobilenet = _mobilenet_filters(config, workdir) if config.mobilenet else {
      "status": "skipped: disabled in the config"}
  LOG.info("Linear test accuracy %.4f; template/class-contrast correlation %s", accuracy,
           np.round(corr, 2))
  return {
      "linear_test_accuracy": accuracy,
      "template_correlation": dict(zip(linear_meta.class_names, corr.tolist())),
      "template_correlation_mean": float(corr.mean()),
      "cnn_conv1_kernel_shape": list(conv1.shape),
      "cnn_conv2_kernel_shape": list(conv2.shape),
      "mobilenet": mobilenet,
  }


if __name__ == "__main__":
  common.main(run)
