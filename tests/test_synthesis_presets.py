"""Presets of jaxviz.synthesis: the Yosinski sets against their 0-255 formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from jaxviz.models import taps
from jaxviz.models.meta import ModelMeta
from jaxviz.synthesis import ascent
from jaxviz.synthesis import objectives
from jaxviz.synthesis import presets

# Per-channel std, as VGG: the conversions must be per channel.
VGG_LIKE = ModelMeta("vgg", (10, 10, 3), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                     ("a", "b"))
MOBILENET_LIKE = ModelMeta("mobilenet", (10, 10, 3), (0.5,) * 3, (0.5,) * 3, ("a", "b"))
W = np.random.default_rng(0).normal(size=(2, 10, 10, 3)).astype(np.float32)


def _linear(x):
  return jnp.einsum("bhwc,khwc->bk", x, W)


def _caffe_step(x_caffe, grad_caffe, caffe, mean255):
  """One step of Yosinski's loop written in Caffe's mean-subtracted 0-255 units (numpy)."""
  x = x_caffe + caffe["learning_rate"] * grad_caffe
  x = x * (1 - caffe["decay"])
  if caffe["blur_every"] and caffe["blur_sigma"]:  # step 0 % blur_every == 0: blurred
    x = np.stack([ndimage.gaussian_filter(x[..., c], caffe["blur_sigma"], mode="reflect")
                  for c in range(3)], -1)
  if caffe["norm_percentile"]:
    norms = np.linalg.norm(x, axis=-1)
    x = np.where((norms < np.percentile(norms, caffe["norm_percentile"]))[..., None], 0, x)
  if caffe["contribution_percentile"]:
    benefit = np.abs(np.sum(-x * grad_caffe, axis=-1))
    x = np.where((benefit < np.percentile(benefit, caffe["contribution_percentile"]))[..., None],
                 0, x)
  return np.clip(x, -mean255, 255 - mean255)


# Sets 2 (decay, small-norm clipping) and 4 (blur, small-contribution clipping) cover
# every operator; 1 and 3 combine the same operators with other values.
@pytest.mark.parametrize("number", [2, 4])
def test_yosinski_presets_take_the_step_of_the_0_255_formulas(number):
  meta = VGG_LIKE
  preset = presets.preset(f"yosinski_{number}", meta)
  caffe = presets.yosinski_caffe_settings(number)
  assert preset.config.steps == caffe["steps"]
  param = preset.parameterize(meta, 1)
  key = jax.random.key(number)
  a = 255.0 * np.asarray(meta.std)  # x_caffe = a * x
  start = np.asarray(param.init(key))[0]
  # The start is N(0, 10) in Caffe units (clipped into the box).
  np.testing.assert_allclose((start * a).std(), 10.0, rtol=0.15)
  result = ascent.ascend(taps.split_layer_fn(_linear, lambda logits: logits),
                         objectives.Objective("logit"), np.array([1]), param, key,
                         preset.config.replace(steps=1, chunk=1))
  grad_caffe = W[1] / a  # dS/dx_caffe = dS/dx / a
  expected = _caffe_step(start * a, grad_caffe, caffe, 255.0 * np.asarray(meta.mean))
  np.testing.assert_allclose(np.asarray(result.images[0]) * a, expected, atol=2e-3)


def test_learning_rate_conversion_of_mobilenet_and_the_small_cnn():
  lr = presets.preset("yosinski_2", MOBILENET_LIKE).config.learning_rate
  np.testing.assert_allclose(lr, 100 / 127.5 ** 2, rtol=1e-6)
  grey = ModelMeta("cnn", (10, 10, 1), (0.0,), (1.0,), ("a", "b"))
  np.testing.assert_allclose(presets.preset("yosinski_2", grey).config.learning_rate,
                             100 / 255 ** 2, rtol=1e-6)
  per_channel = presets.preset("yosinski_2", VGG_LIKE).config.learning_rate
  np.testing.assert_allclose(per_channel, 100 / (255 * np.asarray(VGG_LIKE.std)) ** 2,
                             rtol=1e-6)


def test_every_preset_builds_for_every_kind_of_model():
  grey = ModelMeta("cnn", (28, 28, 1), (0.0,), (1.0,), ("a", "b"))
  for name in presets.PRESETS:
    for meta in (VGG_LIKE, grey):
      preset = presets.preset(name, meta)
      param = preset.parameterize(meta, 2)
      assert param.shape[0] == 2 and param.shape[-1] == meta.input_shape[-1]
  lucid = presets.preset("lucid", MOBILENET_LIKE)
  assert (lucid.config.learning_rate, lucid.config.steps, lucid.size) == (0.05, 512, 128)
  assert lucid.config.redirect_steps == 16
  with pytest.raises(ValueError, match="Unknown Yosinski set"):
    presets.yosinski_caffe_settings(0)
