"""Receptive fields and top-activating inputs (jaxviz.inspect.top_activations)."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxviz.inspect import top_activations as ta
from jaxviz.models import layers
from jaxviz.models import small_cnn
from jaxviz.models import taps
from jaxviz.plotting import inspect_plots
from tests import helpers


def _model():
  model = small_cnn.SmallCNN(num_classes=3, channels=(4, 6), hidden=5)
  return model, helpers.random_variables(model, (1, 28, 28, 1), bias_std=0.0)


def _to_inputs(pixels):
  return np.asarray(pixels, np.float32) / 255.0


class StridedValid(nn.Module):
  """5x5 stride-2 VALID conv, then a 3x3 stride-1 VALID conv (no padding at all)."""

  @nn.compact
  def __call__(self, x):
    h = layers.Conv(3, 5, 2, padding="VALID", name="a")(x)
    h = layers.Conv(2, 3, 1, padding="VALID", name="b")(h)
    return h.reshape(h.shape[0], -1)


@pytest.mark.parametrize("layer,size,stride,offset", [
    ("conv1", 3, 1, -1),  # 3x3 SAME conv: one pixel of padding
    ("pool1", 4, 2, -1),  # 2x2 pooling of conv1 units
    ("conv2", 8, 2, -3),  # 3x3 conv over pool1: 4 + 2 * 2 pixels
])
def test_small_cnn_receptive_fields_match_the_architecture(layer, size, stride, offset):
  model, variables = _model()
  field = ta.receptive_field(model, variables, layer, (28, 28, 1))
  assert field == ta.ReceptiveField((size, size), (stride, stride), (offset, offset))


def test_receptive_field_of_strided_valid_convs():
  model = StridedValid()
  variables = helpers.random_variables(model, (1, 23, 23, 1), seed=1, bias_std=0.0)
  assert ta.receptive_field(model, variables, "a", (23, 23, 1)) == ta.ReceptiveField(
      (5, 5), (2, 2), (0, 0))
  assert ta.receptive_field(model, variables, "b", (23, 23, 1)) == ta.ReceptiveField(
      (9, 9), (2, 2), (0, 0))


def test_gradient_support_is_exactly_the_window():
  model, variables = _model()
  support = ta.gradient_support(model, variables, "conv1", (28, 28, 1), [(5, 9)],
                                key=jax.random.key(2))
  expected = np.zeros((28, 28), bool)
  expected[4:7, 8:11] = True
  np.testing.assert_array_equal(support[0], expected)
  with pytest.raises(ValueError, match="outside"):
    ta.gradient_support(model, variables, "conv1", (28, 28, 1), [(28, 0)], key=jax.random.key(2))


def test_receptive_field_bad_layers():
  model, variables = _model()
  with pytest.raises(ValueError, match="not a spatial map"):
    ta.receptive_field(model, variables, "fc1", (28, 28, 1))
  with pytest.raises(ValueError, match="Valid layer names"):
    ta.receptive_field(model, variables, "conv3", (28, 28, 1))
  small = small_cnn.SmallCNN(num_classes=3, channels=(4, 6), hidden=5)
  small_vars = helpers.random_variables(small, (1, 8, 8, 1), bias_std=0.0)
  with pytest.raises(ValueError, match="reaches the border"):  # 8x8 field on an 8x8 image
    ta.receptive_field(small, small_vars, "conv2", (8, 8, 1))


def test_top_k_search_equals_brute_force():
  model, variables = _model()
  images = np.random.default_rng(3).integers(0, 256, (45, 28, 28, 1), dtype=np.uint8)
  channels, k = [0, 2, 5], 5
  found = ta.top_activating_inputs(model, variables, images, "conv2", channels, k=k,
                                   batch_size=16, preprocess=_to_inputs)
  act = np.asarray(taps.activations(model, variables, _to_inputs(images), ["conv2"])["conv2"])
  flat = act[..., channels].reshape(45, -1, len(channels))  # [N, h*w, C]
  maxima, argmax = flat.max(axis=1), flat.argmax(axis=1)
  for r in range(len(channels)):
    order = np.argsort(-maxima[:, r], kind="stable")[:k]
    np.testing.assert_array_equal(found.image_indices[r], order)
    np.testing.assert_allclose(found.values[r], maxima[order, r], rtol=1e-5)
    np.testing.assert_array_equal(found.positions[r], np.stack(np.divmod(argmax[order, r], 14), -1))
  assert found.field == ta.ReceptiveField((8, 8), (2, 2), (-3, -3))
  # Each patch is the crop of its image at the unit's field (zeros in the padding).
  i, j = found.positions[1, 0]
  box = (2 * i - 3, 2 * j - 3, 2 * i + 5, 2 * j + 5)
  np.testing.assert_array_equal(found.boxes[1, 0], box)
  np.testing.assert_array_equal(found.patches[1, 0],
                                ta.crop_patch(images[found.image_indices[1, 0]], box))
  assert found.patches.shape == (3, 5, 8, 8, 1) and found.patches.dtype == np.uint8


def test_top_k_bad_input_fails_before_the_pass():
  model, variables = _model()
  images = np.zeros((4, 28, 28, 1), np.float32)
  with pytest.raises(ValueError, match=r"k must be an int in \[1, 4\]"):
    ta.top_activating_inputs(model, variables, images, "conv1", [0], k=5)
  with pytest.raises(ValueError, match=r"indices in \[0, 4\)"):
    ta.top_activating_inputs(model, variables, images, "conv1", [4], k=2)
  with pytest.raises(ValueError, match="not a spatial map"):
    ta.top_activating_inputs(model, variables, images, "fc1", [0], k=2)


def test_crop_patch_fills_outside_the_image():
  image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) + 1
  patch = ta.crop_patch(image, (-1, 2, 2, 6))
  assert patch.shape == (3, 4, 1)
  np.testing.assert_array_equal(patch[..., 0], [[0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0]])


def test_top_activations_figure_rows_are_channels():
  c, k = 2, 3
  images = np.zeros((c, k, 10, 10, 1))
  boxes = np.tile(np.array([1, 2, 5, 6]), (c, k, 1))
  patches = np.ones((c, k, 4, 4, 1))
  fig = inspect_plots.top_activations_figure(images, boxes, patches, [7, 11],
                                             np.arange(6.0).reshape(c, k))
  assert len(fig.axes) == 2 * c * k
  labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
  assert labels == ["ch 7", "ch 11"]
  rect = fig.axes[0].patches[0]
  assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (1.5, 0.5, 4, 4)
  assert fig.axes[1].get_xlabel() == "1.00"
