"""Filters as images and linear class templates (jaxviz.inspect.weights)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import weights as weights_run
from jaxviz.inspect import weights
from jaxviz.models import small_cnn
from jaxviz.plotting import inspect_plots
from tests import helpers


def _kernel(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_first_layer_filters_map_min_to_0_and_max_to_255_exactly():
  kernel = _kernel((3, 3, 3, 8))
  out = np.asarray(weights.filter_grid(kernel))
  assert out.shape == (8, 3, 3, 3)
  for o in range(8):
    assert out[o].min() == 0.0 and out[o].max() == 255.0
    # The map is affine per filter over all its RGB channels: colour balance is kept.
    k = kernel[..., o].astype(np.float64)
    np.testing.assert_allclose(out[o], (k - k.min()) / (k.max() - k.min()) * 255, atol=1e-4)


def test_deeper_filters_per_input_channel_slice():
  kernel = _kernel((3, 3, 5, 4), seed=1)
  out = np.asarray(weights.filter_grid(kernel, per_input_channel=True))
  assert out.shape == (4, 5, 3, 3)
  for o in range(4):
    for i in range(5):
      s = kernel[:, :, i, o].astype(np.float64)
      assert out[o, i].min() == 0.0 and out[o, i].max() == 255.0
      np.testing.assert_allclose(out[o, i], (s - s.min()) / (s.max() - s.min()) * 255, atol=1e-4)


def test_constant_filter_is_mid_gray_and_others_unaffected():
  kernel = _kernel((3, 3, 1, 3), seed=2)
  kernel[..., 1] = 0.7
  out = np.asarray(weights.filter_grid(kernel))
  assert np.all(out[1] == weights.CONSTANT_FILTER_VALUE)
  assert out[0].max() == 255.0 and out[2].min() == 0.0


def test_depthwise_kernel_is_one_gray_filter_per_channel():
  kernel = _kernel((3, 3, 1, 6), seed=3)
  out = np.asarray(weights.filter_grid(kernel))
  assert out.shape == (6, 3, 3, 1)
  np.testing.assert_array_equal(np.argsort(out[4].ravel()), np.argsort(kernel[..., 0, 4].ravel()))


def test_filter_grid_bad_input():
  with pytest.raises(ValueError, match="per_input_channel=True"):
    weights.filter_grid(_kernel((3, 3, 16, 4)))
  with pytest.raises(ValueError, match=r"\[kh, kw, I, O\]"):
    weights.filter_grid(_kernel((3, 3, 4)))


def test_mobilenet_v2_first_conv_and_depthwise_filters():
  path = helpers.shared_asset("mobilenet_imagenet/mobilenet_v2_1.0_224_quant_dequant_float32.npz")
  with np.load(path) as npz:
    conv = npz["MobilenetV2/Conv/kernel"]
    depthwise = npz["MobilenetV2/expanded_conv/depthwise/kernel"]
  rgb = np.asarray(weights.filter_grid(conv))
  assert rgb.shape == (32, 3, 3, 3)
  varying = [o for o in range(32) if np.ptp(conv[..., o]) > 0]
  assert varying and all(rgb[o].min() == 0 and rgb[o].max() == 255 for o in varying)
  assert np.asarray(weights.filter_grid(depthwise)).shape == (32, 3, 3, 1)


def test_class_templates_are_exactly_the_reshaped_columns():
  kernel = _kernel((28 * 28, 10), seed=4)
  templates = np.asarray(weights.class_templates(kernel, (28, 28, 1)))
  assert templates.shape == (10, 28, 28, 1)
  for k in range(10):
    np.testing.assert_array_equal(templates[k], kernel[:, k].reshape(28, 28, 1))


def test_class_templates_match_the_linear_models_flatten_order():
  model = small_cnn.LinearSoftmax(num_classes=4)
  x = jax.random.uniform(jax.random.key(0), (2, 5, 6, 3))
  params = helpers.random_variables(model, x.shape, seed=1, bias_std=0.0)["params"]
  templates = weights.class_templates(weights.layer_kernel(params, "logits"), (5, 6, 3))
  # logit_k(x) = <template_k, x> + b_k: the template is what the model multiplies pixels with.
  expected = jnp.einsum("khwc,bhwc->bk", templates, x) + params["logits"]["bias"]
  np.testing.assert_allclose(model.apply({"params": params}, x), expected, rtol=1e-5, atol=1e-5)


def test_class_templates_bad_shapes():
  with pytest.raises(ValueError, match="H \\* W \\* C"):
    weights.class_templates(_kernel((100, 10)), (28, 28, 1))
  with pytest.raises(ValueError, match=r"\[D, K\]"):
    weights.class_templates(_kernel((3, 3, 1, 2)), (3, 3, 1))


def test_layer_kernel_finds_nested_layers_and_lists_valid_ones():
  params = {"Conv": {"kernel": np.ones((3, 3, 3, 2)), "bias": np.zeros(2)},
            "expanded_conv": {"depthwise": {"kernel": np.ones((3, 3, 1, 2))}}}
  assert weights.layer_kernel(params, "expanded_conv/depthwise").shape == (3, 3, 1, 2)
  with pytest.raises(ValueError, match=r"\['Conv', 'expanded_conv/depthwise'\]"):
    weights.layer_kernel(params, "pool")


def test_template_correlation_is_one_for_the_class_contrast():
  rng = np.random.default_rng(5)
  images = rng.random((30, 4, 4, 1))
  labels = np.arange(30) % 3
  contrast = np.stack([images[labels == k].mean(0) - images.mean(0) for k in range(3)])
  corr = weights_run.template_correlations(2.0 * contrast + 1.0, images, labels)
  np.testing.assert_allclose(corr, 1.0, atol=1e-12)
  assert weights_run.template_correlations(-contrast, images, labels).max() < -0.999


def test_filter_figures_label_every_panel():
  filters = np.asarray(weights.filter_grid(_kernel((3, 3, 3, 5))))
  fig = inspect_plots.filters_figure(filters, title="t")
  titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
  assert titles == [f"#{i}" for i in range(5)]
  slices = np.asarray(weights.filter_grid(_kernel((3, 3, 6, 2)), per_input_channel=True))
  fig = inspect_plots.filter_slices_figure(slices, output_filters=[7, 9])
  ax = fig.axes[0]
  assert [t.get_text() for t in ax.get_yticklabels()] == ["7", "9"]
  assert ax.get_xlabel() == "input channel"
  assert ax.images[0].get_array().shape == (2 * 4 - 1, 6 * 4 - 1)


def test_class_template_figure_has_a_symmetric_colour_bar_and_class_titles():
  templates = _kernel((3, 4, 4, 1))
  fig = inspect_plots.class_templates_figure(templates, ["a", "b", "c"])
  image = fig.axes[0].images[0]
  limit = np.percentile(np.abs(templates), 99)
  assert image.get_clim() == pytest.approx((-limit, limit))
  assert fig.axes[0].get_title() == "0: a"
  assert any(ax.get_ylabel() == "weight" for ax in fig.axes)  # the colour bar
