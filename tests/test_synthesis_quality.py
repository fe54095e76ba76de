"""Quality measures of jaxviz.synthesis on signals and models with known answers."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.models import taps
from jaxviz.models.meta import ModelMeta
from jaxviz.synthesis import objectives
from jaxviz.synthesis import quality


def _wave(cycles_per_pixel, size=32):
  cols = np.arange(size)
  row = np.cos(2 * np.pi * cycles_per_pixel * cols)
  return np.broadcast_to(row[None, :, None], (size, size, 3)).astype(np.float32)


def test_high_frequency_energy_of_waves_and_white_noise():
  images = np.stack([_wave(4 / 32), _wave(12 / 32), _wave(4 / 32) + _wave(12 / 32)])
  np.testing.assert_allclose(quality.high_frequency_energy(images), [0.0, 1.0, 0.5],
                             atol=1e-6)
  noise = np.random.default_rng(0).normal(size=(4, 64, 64, 3)).astype(np.float32)
  # White noise spreads its energy evenly: the fraction outside the disc of radius 1/4
  # in the square [-1/2, 1/2]^2 of frequencies is 1 - pi / 16.
  np.testing.assert_allclose(quality.high_frequency_energy(noise), 1 - np.pi / 16, atol=0.02)
  np.testing.assert_array_equal(quality.high_frequency_energy(np.ones((1, 8, 8, 3))), 0.0)


def test_class_probabilities_of_known_logits():
  logits = np.array([[0.0, np.log(3.0), 0.0], [2.0, 0.0, 0.0]], np.float32)
  f = lambda x: jnp.asarray(logits) + 0.0 * x.sum()
  prob, is_max = quality.class_probabilities(f, np.zeros((2, 4, 4, 3), np.float32),
                                             np.array([1, 1]))
  np.testing.assert_allclose(prob, [0.6, 1 / (np.exp(2.0) + 2)], rtol=1e-6)
  np.testing.assert_array_equal(is_max, [True, False])
  with pytest.raises(ValueError, match="out of range"):
    quality.class_probabilities(f, np.zeros((2, 4, 4, 3), np.float32), np.array([0, 3]))


def test_transfer_goes_through_pixels_size_and_label_offset():
  src = ModelMeta("src", (8, 8, 3), (0.5,) * 3, (0.5,) * 3, ("a", "b"), label_offset=1)
  dst = ModelMeta("dst", (4, 4, 3), (0.0,) * 3, (1.0,) * 3, ("a", "b"))
  images = np.full((2, 8, 8, 3), 0.5, np.float32)  # pixel 0.75 everywhere
  resized = np.asarray(quality.resize_for(images, src, dst))
  assert resized.shape == (2, 4, 4, 3)
  np.testing.assert_allclose(resized, 0.75, atol=1e-6)
  # dst's logits: class 1 wins iff the mean pixel is above 0.5.
  f = lambda x: jnp.stack([0.5 - x.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)) - 0.5], -1) * 40
  prob = quality.transfer_probabilities(f, dst, images, src, np.array([1, 0]))
  np.testing.assert_allclose(prob, [1 / (1 + np.exp(-20)), 1 / (1 + np.exp(20))], rtol=1e-5)


def test_unit_and_best_photo_activations_of_a_linear_layer():
  # activation channel c = mean over pixels of x * (c + 1): channel means are known.
  def features(x):
    return jnp.concatenate([x.mean(axis=-1, keepdims=True) * (c + 1) for c in range(3)], -1)

  fn = taps.split_layer_fn(features, lambda a: a.mean(axis=(1, 2)))
  photos = np.stack([np.full((4, 4, 3), v, np.float32) for v in (0.1, 0.7, -0.3)])
  channel = objectives.Objective("channel")
  np.testing.assert_allclose(quality.unit_activations(fn, channel, photos, [0, 1, 2]),
                             [0.1, 1.4, -0.9], rtol=1e-6)
  best, index = quality.best_photo_activations(fn, channel, photos, np.array([2, 0]))
  np.testing.assert_allclose(best, [2.1, 0.7], rtol=1e-6)
  np.testing.assert_array_equal(index, [1, 1])
  neuron = objectives.Objective("neuron")
  centre = np.zeros((1, 4, 4, 3), np.float32)
  centre[0, 2, 2] = 1.0
  np.testing.assert_allclose(quality.unit_activations(fn, neuron, centre, [1]), [2.0])
