"""Tests for jaxviz.attribution.occlusion (toy models, loop reference)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution.occlusion_maps import occlusion
from jaxviz.attribution.occlusion_maps import patch_starts

SHAPE = (2, 7, 6, 2)
X = jax.random.uniform(jax.random.PRNGKey(0), SHAPE)
W = jax.random.normal(jax.random.PRNGKey(1), (7 * 6 * 2, 3))
T = jnp.array([2, 0])


def linear_model(x):
  return x.reshape(x.shape[0], -1) @ W


def tanh_model(x):
  return jnp.tanh(linear_model(x))


def loop_reference(f, x, targets, patch, stride, fill, probability=False):
  """Occlusion by explicit loops over positions (numpy)."""
  x = np.asarray(x)
  b, h, w, _ = x.shape

  def score(images):
    out = np.asarray(f(jnp.asarray(images)))
    if probability:
      out = np.exp(out - out.max(1, keepdims=True))
      out /= out.sum(1, keepdims=True)
    return out[np.arange(b), np.asarray(targets)]

  base = score(x)
  total, count = np.zeros((b, h, w)), np.zeros((h, w))
  for y0 in patch_starts(h, patch[0], stride[0]):
    for x0 in patch_starts(w, patch[1], stride[1]):
      occluded = x.copy()
      occluded[:, y0:y0 + patch[0], x0:x0 + patch[1]] = np.broadcast_to(
          fill, x.shape)[:, y0:y0 + patch[0], x0:x0 + patch[1]]
      total[:, y0:y0 + patch[0], x0:x0 + patch[1]] += (base - score(occluded))[:, None, None]
      count[y0:y0 + patch[0], x0:x0 + patch[1]] += 1
  assert count.min() >= 1
  return total / count


def test_patch_starts_cover_the_border():
  np.testing.assert_array_equal(patch_starts(7, 3, 2), [0, 2, 4])
  np.testing.assert_array_equal(patch_starts(8, 3, 2), [0, 2, 4, 5])
  np.testing.assert_array_equal(patch_starts(5, 5, 3), [0])


@pytest.mark.parametrize("batch_size", [1, 5, 1000])
def test_matches_loop_reference(batch_size):
  out = occlusion(tanh_model, X, T, patch=(3, 2), stride=2, fill=0.3, batch_size=batch_size)
  ref = loop_reference(tanh_model, X, T, (3, 2), (2, 2), 0.3)
  assert out.shape == (2, 7, 6)
  np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_single_pixel_patches_of_linear_model_are_weight_times_difference():
  out = occlusion(linear_model, X, T, patch=1, stride=1, fill=0.5)
  weights = W[:, T].T.reshape(SHAPE)
  np.testing.assert_allclose(out, ((X - 0.5) * weights).sum(-1), rtol=1e-4, atol=1e-5)


def test_only_the_relevant_region_lights_up():
  x = jnp.ones((1, 16, 16, 1))

  def region_model(x):  # Logit 1 reads only rows 2:5, columns 9:12.
    region = x[:, 2:5, 9:12].sum((1, 2, 3))
    return jnp.stack([x.sum((1, 2, 3)), region], axis=1)

  heat = np.asarray(occlusion(region_model, x, jnp.array([1]), patch=4, stride=2))[0]
  assert np.unravel_index(heat.argmax(), heat.shape)[0] in range(2, 5)
  assert np.unravel_index(heat.argmax(), heat.shape)[1] in range(9, 12)
  assert heat[2:5, 9:12].min() > 0
  # A pixel's patches start at most 3 rows/columns before it: rows >= 8 or
  # columns <= 5 share no patch with the region.
  assert np.all(heat[8:] == 0) and np.all(heat[:, :6] == 0)


def test_multiple_targets_probability_and_image_fill():
  targets = jnp.array([[0, 2], [1, 1]])
  fill = 0.5 * X[:, ::-1]  # An image-shaped occluder.
  out = occlusion(tanh_model, X, targets, patch=3, stride=3, fill=fill, score="probability")
  assert out.shape == (2, 2, 7, 6)
  for t in range(2):
    ref = loop_reference(tanh_model, X, targets[:, t], (3, 3), (3, 3), np.asarray(fill),
                         probability=True)
    np.testing.assert_allclose(out[:, t], ref, rtol=1e-4, atol=1e-6)


def test_jittable_as_a_whole():
  occ = jax.jit(functools.partial(occlusion, tanh_model, patch=2, stride=2))
  np.testing.assert_allclose(occ(X, T, fill=0.1),
                             occlusion(tanh_model, X, T, patch=2, stride=2, fill=0.1),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"patch": 8}, "larger than the image"),
    ({"patch": 0}, "patch must be"),
    ({"stride": (1, 2, 3)}, "stride must be"),
    ({"batch_size": 0}, "batch_size"),
    ({"score": "loss"}, "score must be"),
    ({"fill": jnp.zeros(3)}, "does not broadcast"),
    ({"targets": jnp.array([0, 3])}, "out of range"),
    ({"x": jnp.ones((7, 6, 2))}, "rank 4"),
])
def test_validation(kwargs, match):
  args = {"x": X, "targets": T, "patch": 2}
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    occlusion(linear_model, args.pop("x"), args.pop("targets"), **args)
