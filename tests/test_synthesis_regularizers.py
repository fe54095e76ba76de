"""Image-space regularizers and random transforms of jaxviz.synthesis."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from jaxviz.synthesis import regularizers
from jaxviz.synthesis import transforms as transforms_lib


def _images(seed=0, shape=(2, 12, 10, 3)):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# --------------------------------------------------------------------------
# Regularizers.


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_blur_preserves_every_channel_mean_and_matches_scipy(sigma):
  x = _images()
  blurred = np.asarray(jax.jit(regularizers.gaussian_blur, static_argnums=1)(x, sigma))
  np.testing.assert_allclose(blurred.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-6)
  expected = np.stack([np.stack([ndimage.gaussian_filter(x[b, ..., c], sigma, mode="reflect",
                                                         truncate=regularizers.BLUR_TRUNCATE)
                                 for c in range(3)], -1) for b in range(2)])
  np.testing.assert_allclose(blurred, expected, atol=1e-5)
  assert np.var(blurred) < np.var(x)


def test_blur_identity_and_too_wide():
  x = jnp.asarray(_images())
  np.testing.assert_array_equal(regularizers.gaussian_blur(x, 0.0), x)
  with pytest.raises(ValueError, match="too wide"):
    regularizers.gaussian_blur(x, 4.0)
  with pytest.raises(ValueError, match="blur sigma"):
    regularizers.gaussian_kernel(-1.0)


@pytest.mark.parametrize("percentile", [20.0, 50.0, 90.0])
def test_small_norm_clipping_zeros_exactly_the_pixels_below_the_percentile(percentile):
  x = _images(1)
  scale = np.array([1.0, 2.0, 0.5], np.float32)
  out = np.asarray(regularizers.clip_small_norm(jnp.asarray(x), percentile, scale))
  for b in range(2):
    norms = np.linalg.norm(x[b] * scale, axis=-1)
    below = norms < np.percentile(norms, percentile)
    assert below.sum() == round(percentile / 100 * norms.size)  # distinct norms
    np.testing.assert_array_equal(out[b][below], 0.0)
    np.testing.assert_array_equal(out[b][~below], x[b][~below])


def test_small_contribution_clipping_uses_abs_x_times_gradient():
  x, g = _images(2), _images(3)
  out = np.asarray(regularizers.clip_small_contribution(jnp.asarray(x), jnp.asarray(g), 90.0))
  for b in range(2):
    benefit = np.abs(np.sum(x[b] * g[b], axis=-1))
    below = benefit < np.percentile(benefit, 90.0)
    np.testing.assert_array_equal(out[b][below], 0.0)
    np.testing.assert_array_equal(out[b][~below], x[b][~below])
  # Unit-free: a channel scaled by 10 with its gradient divided by 10 clips the same pixels.
  s = np.array([10.0, 1.0, 1.0], np.float32)
  np.testing.assert_allclose(
      regularizers.clip_small_contribution(jnp.asarray(x * s), jnp.asarray(g / s), 90.0) / s,
      out, rtol=1e-6)


def test_zero_percentiles_decay_and_penalty():
  x = jnp.asarray(_images())
  np.testing.assert_array_equal(regularizers.clip_small_norm(x, 0.0), x)
  np.testing.assert_array_equal(regularizers.clip_small_contribution(x, x, 0.0), x)
  np.testing.assert_allclose(regularizers.decay(x, 0.3), 0.7 * x)
  np.testing.assert_allclose(regularizers.l2_penalty(x), np.sum(np.square(x), axis=(1, 2, 3)),
                             rtol=1e-5)


# --------------------------------------------------------------------------
# Transforms.

LOW, HIGH = np.array([-1.0, 0.0, -2.0], np.float32), np.array([1.0, 1.0, 2.0], np.float32)


def test_identity_transforms_and_output_shape():
  x = jnp.asarray(_images())
  t = transforms_lib.Transforms()
  assert t.is_identity
  np.testing.assert_array_equal(t(jax.random.key(0), x, LOW, HIGH), x)
  assert transforms_lib.lucid().output_shape((2, 128, 128, 3)) == (2, 152, 152, 3)


def test_pad_border_takes_the_pad_value_in_each_channels_box():
  x = jnp.asarray(_images())
  out = np.asarray(transforms_lib.Transforms(pad=3, pad_value=0.25)(jax.random.key(0), x,
                                                                    LOW, HIGH))
  assert out.shape == (2, 18, 16, 3)
  np.testing.assert_allclose(out[:, :3], np.broadcast_to(LOW + 0.25 * (HIGH - LOW),
                                                         out[:, :3].shape))
  np.testing.assert_array_equal(out[:, 3:-3, 3:-3], x)


def test_jitter_is_a_cyclic_shift_within_the_bound_drawn_per_image():
  x = jnp.asarray(_images(shape=(4, 9, 9, 1)))
  t = transforms_lib.Transforms(jitter=2)
  apply = jax.jit(lambda key, x: t(key, x, LOW[:1], HIGH[:1]))
  out = np.asarray(apply(jax.random.key(5), x))
  shifts = []
  for b in range(4):
    found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
             if np.array_equal(out[b], np.roll(np.asarray(x[b]), (dy, dx), axis=(0, 1)))]
    assert len(found) == 1
    shifts.append(found[0])
  assert len(set(shifts)) > 1  # every image draws its own shift
  np.testing.assert_array_equal(apply(jax.random.key(5), x), out)  # same key


def test_affine_identity_quarter_turn_and_zoom_of_a_ramp():
  x = jnp.asarray(_images(shape=(1, 7, 7, 3))[0])
  fill = jnp.zeros(3)
  np.testing.assert_array_equal(transforms_lib.affine(x, 1.0, 0.0, fill), x)
  turned = np.asarray(transforms_lib.affine(x, 1.0, 90.0, fill))
  np.testing.assert_allclose(turned, np.rot90(np.asarray(x), k=1, axes=(0, 1)), atol=1e-5)
  # Bilinear interpolation is exact on a ramp: a zoom by 2 halves its slope about the centre.
  ramp = jnp.broadcast_to(jnp.arange(7.0)[:, None, None], (7, 7, 1))
  zoomed = np.asarray(transforms_lib.affine(ramp, 2.0, 0.0, jnp.zeros(1)))[..., 0]
  np.testing.assert_allclose(zoomed[:, 3], 3 + (np.arange(7) - 3) / 2, atol=1e-5)


def test_affine_fills_from_outside_and_is_differentiable():
  x = jnp.ones((6, 6, 1))
  out = np.asarray(transforms_lib.affine(x, 0.5, 0.0, jnp.asarray([-1.0])))
  assert out[0, 0, 0] == -1.0 and out[3, 3, 0] == 1.0
  grad = jax.jit(jax.grad(lambda im: transforms_lib.affine(im, 1.1, 7.0, jnp.zeros(1)).sum()))(x)
  assert np.all(np.isfinite(grad)) and grad.sum() > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"pad": -1}, "pad must be an int"),
    ({"jitter": 1.5}, "jitter must be an int"),
    ({"pad_value": 2.0}, "pad_value"),
    ({"scales": (1.0, 0.0)}, "scales"),
    ({"angles": "ten"}, "angles"),
])
def test_bad_transform_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    transforms_lib.Transforms(**kwargs)
