"""Parameterizations and the colour square root of jaxviz.synthesis."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz import data
from jaxviz.models.meta import ModelMeta
from jaxviz.synthesis import colour
from jaxviz.synthesis import parameterizations as param_lib
from tests import helpers

MOBILENET_LIKE = ModelMeta("rgb", (16, 16, 3), (0.5,) * 3, (0.5,) * 3, ("a", "b"))
VGG_LIKE = ModelMeta("vgg", (16, 16, 3), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                     ("a", "b"))
GREY = ModelMeta("grey", (12, 12, 1), (0.0,), (1.0,), ("a", "b"))


@functools.partial(jax.jit, static_argnums=0)
def _render(p, params):
  return p.render(params)


@functools.partial(jax.jit, static_argnums=0)
def _init(p, key):
  return p.init(key)


def _all(meta, batch=2):
  """Every parameterization (decorrelation is the identity for grey models: skipped)."""
  params = [param_lib.pixel(meta, batch), param_lib.pixel(meta, batch, squash="clip",
                                                         init_scale=0.2),
            param_lib.fourier(meta, batch)]
  if meta.input_shape[-1] == 3:
    params.append(param_lib.pixel(meta, batch, decorrelate=True))
  return params


@pytest.mark.parametrize("meta", [VGG_LIKE, GREY], ids=lambda m: m.name)
def test_renderings_stay_in_the_per_channel_box_even_for_huge_parameters(meta):
  low, high = meta.input_bounds
  for p in _all(meta):
    params = p.project(1e3 * _init(p, jax.random.key(1)))
    x = np.asarray(_render(p, params))
    assert x.shape == (2,) + meta.input_shape
    assert np.all(x >= low - 1e-6) and np.all(x <= high + 1e-6), type(p).__name__
    # Both ends of the box are reached per channel (the box is the model's, not [-1, 1]).
    assert np.allclose(x.min(axis=(0, 1, 2)), low, atol=1e-3)
    assert np.allclose(x.max(axis=(0, 1, 2)), high, atol=1e-3)


@pytest.mark.parametrize("meta", [VGG_LIKE, GREY], ids=lambda m: m.name)
def test_encode_inverts_render(meta):
  low, high = meta.input_bounds
  rng = np.random.default_rng(0)
  images = (low + (high - low) * rng.uniform(0.05, 0.95, (2,) + meta.input_shape)
            ).astype(np.float32)
  for p in _all(meta):
    np.testing.assert_allclose(_render(p, p.encode(images)), images, atol=2e-5)


def test_same_key_same_parameters_and_other_keys_differ():
  for p in _all(MOBILENET_LIKE):
    a, b = p.init(jax.random.key(3)), p.init(jax.random.key(3))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, p.init(jax.random.key(4)))


def test_parameterizations_are_static_jit_arguments():
  traces = []

  @functools.partial(jax.jit, static_argnums=0)
  def render(p, params):
    traces.append(p)
    return p.render(params)

  p = param_lib.fourier(MOBILENET_LIKE, 2)
  params = p.init(jax.random.key(0))
  render(p, params)
  render(param_lib.fourier(MOBILENET_LIKE, 2), params)  # an equal object: a cache hit
  assert len(traces) == 1


def test_render_is_differentiable_everywhere():
  for p in _all(MOBILENET_LIKE):
    params = _init(p, jax.random.key(0))
    grad = jax.jit(jax.grad(lambda q: jnp.sum(p.render(q)[..., 0])))(params)
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_frequency_scale_is_one_over_f_with_unit_rms():
  scale = param_lib.frequency_scale(32, 32)
  assert scale.shape == (32, 17)
  np.testing.assert_allclose(np.sqrt(np.mean(scale ** 2)), 1.0, rtol=1e-5)
  # Frequencies (1, 0), (2, 0), (4, 0) cycles per 32 px: scale halves per octave.
  np.testing.assert_allclose(scale[0, 1] / scale[0, 2], 2.0, rtol=1e-5)
  np.testing.assert_allclose(scale[0, 2] / scale[0, 4], 2.0, rtol=1e-5)
  np.testing.assert_allclose(scale[0, 0], scale[0, 1], rtol=1e-5)  # DC floored at 1/32
  np.testing.assert_allclose(param_lib.frequency_scale(32, 32, 0.0), 1.0, rtol=1e-6)


def test_a_single_fourier_coefficient_renders_one_sinusoid():
  p = param_lib.fourier(GREY, 1, init_scale=0.0)
  params = np.zeros(p.params_shape, np.float32)
  params[0, 0, 3, 0, 0] = 1e-3  # cosine of 3 cycles along x
  x = np.asarray(_render(p, jnp.asarray(params)))[0, :, :, 0]
  centred = x - x.mean()
  expected = np.cos(2 * np.pi * 3 * np.arange(12) / 12)[None, :] * np.ones((12, 1))
  np.testing.assert_allclose(centred / np.abs(centred).max(), expected, atol=1e-3)


def test_fourier_noise_is_smoother_than_pixel_noise():
  def roughness(p):
    x = np.asarray(_render(p, _init(p, jax.random.key(0))))
    return np.mean(np.diff(x, axis=2) ** 2) / np.var(x)

  # White noise: E[(x_{i+1} - x_i)^2] = 2 var(x); a 1/f spectrum: far less.
  assert roughness(param_lib.fourier(MOBILENET_LIKE, 4)) < 0.5 * roughness(
      param_lib.pixel(MOBILENET_LIKE, 4))


def test_decorrelated_latent_noise_has_the_photo_colour_covariance():
  meta = ModelMeta("rgb", (64, 64, 3), (0.5,) * 3, (0.5,) * 3, ("a",))
  scale = 1e-3  # sigmoid'(0) = 1/4: x = 2 * (sigmoid(t) - 1/2) ~ t / 2 here
  p = param_lib.pixel(meta, 8, decorrelate=True, init_scale=scale)
  x = np.asarray(_render(p, _init(p, jax.random.key(0)))).reshape(-1, 3) / (scale / 2)
  matrix = colour.decorrelation_matrix(3)
  np.testing.assert_allclose(np.cov(x, rowvar=False), matrix @ matrix.T, atol=0.03)


def test_covariance_sqrt_of_known_colour_statistics():
  rng = np.random.default_rng(0)
  sigma = np.array([[4.0, 1.0, 0.5], [1.0, 2.0, 0.3], [0.5, 0.3, 1.0]])
  pixels = rng.multivariate_normal([0.2, 0.3, 0.4], sigma, size=200_000)
  root = colour.covariance_sqrt([pixels[:100_000], pixels[100_000:]])
  np.testing.assert_allclose(root @ root.T, sigma, rtol=0.03, atol=0.03)
  norms = np.linalg.norm(root, axis=0)
  assert np.all(np.diff(norms) < 0)  # principal axes, largest first
  np.testing.assert_allclose(np.abs(root.T @ root - np.diag(norms ** 2)), 0, atol=1e-8)


def test_stored_colour_square_root_is_the_one_of_the_photos():
  """How RGB_COVARIANCE_SQRT was made (see jaxviz.synthesis.colour)."""
  photos, _ = data.load_image_folder(helpers.shared_asset("sample_images_imagenet"))
  _, samples, _ = data.labelled_images(helpers.shared_asset("foolbox_samples"), "imagenet_*")
  assert len(photos) + len(samples) == 29
  pixels = data.resize(list(photos) + list(samples), (224, 224)).astype(np.float64) / 255
  np.testing.assert_allclose(colour.covariance_sqrt(pixels), colour.RGB_COVARIANCE_SQRT,
                             atol=2e-6)


def test_grey_models_use_no_colour_matrix():
  np.testing.assert_array_equal(colour.decorrelation_matrix(1), [[1.0]])
  with pytest.raises(ValueError, match="1 or 3 channels"):
    colour.decorrelation_matrix(2)


@pytest.mark.parametrize("build, match", [
    (lambda: param_lib.pixel(MOBILENET_LIKE, 0), "shape\\[0\\]"),
    (lambda: param_lib.pixel(MOBILENET_LIKE, 2, squash="tanh"), "Unknown squash"),
    (lambda: param_lib.pixel(MOBILENET_LIKE, 2, squash="clip", decorrelate=True),
     "decorrelate needs"),
    (lambda: param_lib.fourier(MOBILENET_LIKE, 2, init_scale=-1.0), "init_scale"),
    (lambda: param_lib.fourier(MOBILENET_LIKE, 2, decay_power=float("nan")), "decay_power"),
    (lambda: param_lib.fourier(MOBILENET_LIKE, 2, size=(16, 0)), "shape\\[2\\]"),
    (lambda: param_lib.PixelParameterization((1, 4, 4, 3), (0.0,), (0.0,)), "low < high"),
    (lambda: param_lib.FourierParameterization((1, 4, 4, 2), (0.0,), (1.0,)),
     "1 or 3 channels"),
    (lambda: param_lib.make("wavelet", MOBILENET_LIKE, 2), "Unknown parameterization"),
])
def test_bad_arguments_raise_clear_errors(build, match):
  with pytest.raises(ValueError, match=match):
    build()


def test_bad_keys_and_images_raise():
  p = param_lib.fourier(MOBILENET_LIKE, 2)
  with pytest.raises(ValueError, match="PRNG key"):
    p.init(0)
  with pytest.raises(ValueError, match="expected 2 images"):
    p.encode(np.zeros((3, 16, 16, 3), np.float32))
  with pytest.raises(ValueError, match="spatially"):
    p.encode(np.zeros((2, 8, 8, 3), np.float32))
