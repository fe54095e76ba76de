"""Tests for jaxviz.style: losses against known values, the loop's invariants, bad input."""

import logging

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import PIL.Image
import pytest

from jaxviz import style
from jaxviz.models import layers
from jaxviz.models import random_params
from jaxviz.models import taps
from jaxviz.models import vgg
from jaxviz.models import vgg_builder
from jaxviz.models.meta import ModelMeta
from jaxviz.style import calibration
from jaxviz.style import images as style_images
from jaxviz.style import transfer
from tests import helpers

SIZE = 16
META = ModelMeta(name="tiny", input_shape=(SIZE, SIZE, 3), mean=(0.5,) * 3, std=(0.5,) * 3,
                 class_names=("a", "b"))


class TinyNet(nn.Module):
  """Three named ReLU convs (16, 8 and 4 pixels) and a linear head."""

  @nn.compact
  def __call__(self, x):
    h = layers.Conv(6, 3, 1, activation="relu", impl="native", name="conv1")(x)
    h = layers.Conv(8, 3, 2, activation="relu", impl="native", name="conv2")(h)
    h = layers.Conv(8, 3, 2, activation="relu", impl="native", name="conv3")(h)
    return layers.Dense(2, name="head")(jnp.mean(h, axis=(1, 2)))


@pytest.fixture(scope="module")
def tiny():
  model = TinyNet()
  return model, random_params(model, (1, SIZE, SIZE, 3), kernel_gain=np.sqrt(2.0))


def _image(seed, size=SIZE, channels=3):
  """A smooth random image in [-1, 1] (MobileNet-style input space)."""
  rng = np.random.default_rng(seed)
  coarse = rng.uniform(-0.9, 0.9, (size // 4, size // 4, channels))
  return np.kron(coarse, np.ones((4, 4, 1))).astype(np.float32)


CONTENT = _image(0)[None]
STYLES = np.stack([_image(1), _image(2)])


def _config(**changes):
  # Layer weights about balance the layers (see test_balanced_weights...).
  base = dict(content_layers={"conv2": 10.0}, style_layers={"conv1": 6e4, "conv3": 6e5},
              content_weight=1.0, style_weight=1.0, tv_weight=1e-7, iterations=6, log_every=3)
  base.update(changes)
  return style.StyleConfig(**base)


# ------------------------------------------------------------------ losses


def test_gram_matrix_of_a_known_tensor():
  # Two positions, two channels: F = [[1, 2], [3, 4]]; F^T F = [[10, 14], [14, 20]].
  features = jnp.asarray([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
  want = np.array([[10.0, 14.0], [14.0, 20.0]]) / (1 * 2 * 2)
  np.testing.assert_allclose(style.gram_matrix(features)[0], want, rtol=1e-6)


def test_gram_matrix_matches_a_loop_and_ignores_positions():
  rng = np.random.default_rng(0)
  f = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  want = np.stack([sum(np.outer(f[b, i, j], f[b, i, j]) for i in range(3) for j in range(4))
                   for b in range(2)]) / (3 * 4 * 5)
  np.testing.assert_allclose(style.gram_matrix(f), want, rtol=1e-5)
  shuffled = f.reshape(2, 12, 5)[:, rng.permutation(12)].reshape(2, 3, 4, 5)
  np.testing.assert_allclose(style.gram_matrix(shuffled), style.gram_matrix(f), rtol=1e-5)


def test_style_loss_is_zero_for_identical_features_and_positive_otherwise():
  rng = np.random.default_rng(1)
  a = {"l1": rng.normal(size=(2, 4, 4, 3)), "l2": rng.normal(size=(2, 2, 2, 6))}
  grams = {k: style.gram_matrix(v) for k, v in a.items()}
  weights = {"l1": 1.0, "l2": 0.5}
  np.testing.assert_array_equal(style.style_loss(grams, grams, weights), [0.0, 0.0])
  other = {k: style.gram_matrix(v + 0.1) for k, v in a.items()}
  loss = np.asarray(style.style_loss(other, grams, weights))
  assert loss.shape == (2,) and np.all(loss > 0)
  # Per-layer weights scale their layer's term.
  only_l2 = style.style_loss(other, grams, {"l2": 2.0})
  np.testing.assert_allclose(only_l2, 2 * style.mean_squared_difference(other["l2"], grams["l2"]),
                             rtol=1e-6)


def test_content_loss_and_total_variation_known_values():
  f = {"c": jnp.ones((1, 2, 2, 1))}
  p = {"c": jnp.zeros((1, 2, 2, 1))}
  np.testing.assert_allclose(style.content_loss(f, p, {"c": 3.0}), [3.0])
  # A horizontal ramp 0, 1, 2 (one channel, 2 rows): 2 rows x 2 steps of 1, halved.
  ramp = jnp.tile(jnp.arange(3.0)[None, None, :, None], (1, 2, 1, 1))
  np.testing.assert_allclose(style.total_variation(ramp), [2.0])
  np.testing.assert_allclose(style.total_variation(jnp.full((1, 4, 4, 3), 7.0)), [0.0])


def test_swag_softmax_is_a_size_normalised_softmax_over_positions_and_channels():
  rng = np.random.default_rng(2)
  f = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  out = np.asarray(style.swag_softmax(f, temperature=2.0))
  flat = f.reshape(2, -1) / 2.0
  want = np.exp(flat) / np.exp(flat).sum(1, keepdims=True) * flat.shape[1]
  np.testing.assert_allclose(out.reshape(2, -1), want, rtol=1e-5)
  np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), [1.0, 1.0], rtol=1e-5)
  np.testing.assert_allclose(style.swag_softmax(f + 3.0, 2.0), out, rtol=1e-5)


# ------------------------------------------------------------------ the loop


@pytest.fixture(scope="module")
def features(tiny):
  """One extractor for every loop test, so that they share compilations (and count them)."""
  model, params = tiny
  return helpers.TraceCounter(style.LayerFeatures(model, params, _config().layers,
                                                  (1, SIZE, SIZE, 3)))


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_total_loss_decreases_and_output_stays_in_range(features, optimizer):
  config = _config(optimizer=optimizer, learning_rate=0.05, iterations=9)
  result = style.style_transfer(features, CONTENT, STYLES, META, jax.random.key(0), config)
  assert result.images.shape == (2, SIZE, SIZE, 3) and result.pixels.dtype == np.uint8
  low, high = META.input_bounds
  assert np.all(result.images >= low) and np.all(result.images <= high)
  assert result.history.shape == (2, 9)
  assert np.all(result.loss_end["total"] < 0.5 * result.loss_start["total"])
  assert np.all(result.loss_end["style"] < 0.5 * result.loss_start["style"])
  if optimizer == "lbfgs":  # The line search accepts only decreases.
    assert np.all(np.diff(result.history, axis=1) <= 1e-6 * result.history[:, :1])
    assert np.all(result.evaluations >= 9)
  np.testing.assert_array_equal(result.pixels, style.to_uint8(result.images, META))


def test_batched_styles_equal_separate_runs_and_compile_once(features):
  config = _config(learning_rate=0.05)  # The L-BFGS config of the test above.
  weights = [[1.0, 1.0, 1e-7], [0.5, 2.0, 0.0]]
  batched = style.style_transfer(features, CONTENT, STYLES, META, jax.random.key(0), config,
                                 loss_weights=weights)
  loops = transfer._advance._cache_size()  # pylint: disable=protected-access
  alone = []
  for i in range(2):
    alone.append(style.style_transfer(features, CONTENT, STYLES[i:i + 1], META,
                                      jax.random.key(0), config, loss_weights=weights[i]))
    # One style is a new shape: one compilation of the loop for all its calls (a warm-up and
    # two chunks), none for the second style.
    assert transfer._advance._cache_size() == loops + 1  # pylint: disable=protected-access
  for i in range(2):
    np.testing.assert_allclose(alone[i].images[0], batched.images[i], atol=1e-4)
    np.testing.assert_allclose(alone[i].history[0], batched.history[i], rtol=1e-4)
  traces = features.count
  # Same shapes, other weights, iterations and seed: nothing is traced again.
  style.style_transfer(features, CONTENT, STYLES[:1], META, jax.random.key(1),
                       config.replace(iterations=4), loss_weights=[2.0, 1.0, 0.0])
  style.style_transfer(features, CONTENT, STYLES, META, jax.random.key(2),
                       config.replace(style_weight=3.0))
  assert features.count == traces > 0


def test_noise_init_same_seed_same_image_other_seed_other_image(features):
  config = _config(init="noise", optimizer="adam", learning_rate=0.05, iterations=3)
  run = lambda seed: style.style_transfer(features, CONTENT, STYLES[:1], META,
                                          jax.random.key(seed), config)
  first, again, other = run(3), run(3), run(4)
  np.testing.assert_array_equal(first.pixels, again.pixels)
  assert not np.array_equal(first.initial, other.initial)
  assert abs(float(first.initial.mean())) < 0.1  # Mid-grey start.


def test_init_style_starts_from_the_style_image(features):
  config = _config(init="style", optimizer="adam", learning_rate=0.05, iterations=3)
  result = style.style_transfer(features, CONTENT, STYLES, META, jax.random.key(0), config)
  np.testing.assert_allclose(result.initial, STYLES, atol=1e-6)


def test_progress_logs_every_term(features, caplog):
  config = _config(optimizer="adam", learning_rate=0.05, iterations=3)
  with caplog.at_level(logging.INFO, logger="jaxviz"):
    style.style_transfer(features, CONTENT, STYLES[:1], META, jax.random.key(0), config,
                         name="tiny_style")
  message = [r.getMessage() for r in caplog.records if "tiny_style" in r.getMessage()][-1]
  assert "3/3 steps" in message
  for term in style.TERMS:
    assert f"{term} " in message


def test_non_finite_loss_stops_and_names_the_step():
  def features(x):  # log(pixel): -inf once a pixel reaches the lower bound -1.
    return {"a": jnp.log(x + 1.0)}

  config = style.StyleConfig(content_layers=(), style_layers={"a": 1.0}, content_weight=0.0,
                             style_weight=1.0, tv_weight=0.0, optimizer="adam",
                             learning_rate=0.3, iterations=20, log_every=5)
  # The style's Gram matrix asks for larger |log(x + 1)|: the pixels fall towards -1.
  content = np.full((1, 8, 8, 3), -0.5, np.float32)
  dark = np.full((1, 8, 8, 3), -0.99, np.float32)
  with pytest.raises(FloatingPointError, match=r"at step [1-9]"):
    style.style_transfer(features, content, dark, META, jax.random.key(0), config)


def test_balanced_weights_make_every_style_layer_start_at_one(features):
  config = _config()
  content_w, style_w = calibration.balanced_layer_weights(features, config, CONTENT, STYLES[:1],
                                                          significant_digits=6)
  balanced = config.replace(content_layers=content_w, style_layers=style_w)
  targets = style.make_targets(features, balanced, CONTENT, STYLES[:1])
  for name, weight in style_w.items():
    start = style.style_loss({name: style.gram_matrix(features(CONTENT)[name])}, targets.grams,
                             {name: weight})
    np.testing.assert_allclose(start, [1.0], rtol=1e-4)
  assert set(content_w) == {"conv2"}


# ------------------------------------------------------------------ VGG (Gatys' settings)


def test_gatys_vgg19_preset_runs_on_a_small_random_vgg():
  model, params, meta = vgg_builder(19, num_classes=10, width=1 / 16, impl="native")
  gatys = style.preset("gatys_vgg19")
  # Two Adam steps keep the compilation small; L-BFGS is tested on the tiny network.
  config = gatys.replace(iterations=2, log_every=2, init="content", optimizer="adam",
                         learning_rate=0.02)
  assert dict(config.content_layers) == {"conv4_2": 1.0}
  assert [n for n, _ in config.style_layers] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1",
                                                  "conv5_1"]
  assert (config.content_weight, config.style_weight, config.tv_weight) == (5.0, 100.0, 1e-3)
  assert (gatys.optimizer, gatys.iterations) == ("lbfgs", 1000)
  rng = np.random.default_rng(0)
  content = meta.preprocess(rng.uniform(0, 255, (1, 32, 32, 3)))
  styles = meta.preprocess(rng.uniform(0, 255, (1, 32, 32, 3)))
  features = style.LayerFeatures(model, params, config.layers, content.shape)
  result = style.style_transfer(features, content, styles, meta, jax.random.key(0), config)
  assert result.loss_end["total"][0] < result.loss_start["total"][0]


# ------------------------------------------------------------------ bad input


def test_unknown_layer_names_list_the_valid_ones(tiny):
  model, params = tiny
  with pytest.raises(ValueError, match=r"Unknown layer name\(s\) \['conv9'\].*conv1.*conv3"):
    style.LayerFeatures(model, params, ["conv1", "conv9"], (1, SIZE, SIZE, 3))
  with pytest.raises(ValueError, match=r"does not return layer\(s\) \['b'\].*\['a'\]"):
    style.style_transfer(lambda x: {"a": x}, CONTENT, STYLES, META, jax.random.key(0),
                         _config(content_layers={"a": 1.0}, style_layers={"b": 1.0}))


@pytest.mark.parametrize("changes, message", [
    (dict(style_weight=-1.0), "style_weight"),
    (dict(content_layers={"conv2": -0.5}), r"content_layers\['conv2'\]"),
    (dict(tv_weight=float("nan")), "tv_weight"),
    (dict(iterations=0), "iterations"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(init="random"), "init"),
    (dict(parameterization="wavelet"), "parameterization"),
    (dict(style_layers=()), "style layer"),
    (dict(style_layers="conv1"), "collection of layer names"),
])
def test_bad_config_is_rejected(changes, message):
  with pytest.raises(ValueError, match=message):
    _config(**changes)


def test_bad_arrays_are_rejected_before_any_work(features):
  config, key = _config(), jax.random.key(0)
  gray = STYLES[..., :1]
  with pytest.raises(ValueError, match="channel"):
    style.style_transfer(features, CONTENT, gray, META, key, config)
  with pytest.raises(ValueError, match="NaN"):
    style.style_transfer(features, CONTENT * np.nan, STYLES, META, key, config)
  with pytest.raises(ValueError, match="input range"):
    style.style_transfer(features, CONTENT * 10, STYLES, META, key, config)
  with pytest.raises(ValueError, match="one image"):
    style.style_transfer(features, STYLES, STYLES, META, key, config)
  with pytest.raises(ValueError, match="loss_weights"):
    style.style_transfer(features, CONTENT, STYLES, META, key, config,
                         loss_weights=[1.0, -1.0, 0.0])
  with pytest.raises(ValueError, match="PRNG key"):
    style.style_transfer(features, CONTENT, STYLES, META, 0, config)


def test_image_files_missing_unreadable_and_mixed_channels(tmp_path):
  rgb, gray = tmp_path / "rgb.png", tmp_path / "gray.png"
  PIL.Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(rgb)
  PIL.Image.fromarray(np.zeros((20, 30), np.uint8)).save(gray)
  broken = tmp_path / "broken.jpg"
  broken.write_bytes(b"not an image")
  with pytest.raises(FileNotFoundError, match="missing.jpg"):
    style_images.load_style_images(tmp_path / "missing.jpg", [rgb], META, 16)
  with pytest.raises(ValueError, match="Cannot read image"):
    style_images.load_style_images(rgb, [broken], META, 16)
  with pytest.raises(ValueError, match="different channel counts"):
    style_images.load_style_images(rgb, [gray], META, 16)
  loaded = style_images.load_style_images(rgb, [rgb, rgb], META, 16)
  assert loaded.content.shape == (1, 11, 16, 3) and loaded.styles.shape == (2, 11, 16, 3)
  assert loaded.style_pixels.dtype == np.uint8


def test_cover_resize_keeps_the_aspect_and_crops_the_centre():
  image = np.zeros((10, 40, 1), np.uint8)
  image[:, 18:22] = 255  # A bright band at the centre.
  out = style_images.cover_resize(image, (20, 20))  # Scaled to 20 x 80, columns 30..49 kept.
  assert out.shape == (20, 20, 1)
  assert out[:, 10].min() == 255 and out[:, 0].max() == 0 and out[:, 19].max() == 0


def test_fourier_parameterization_starts_from_the_content_and_descends(features):
  config = _config(parameterization="fourier", optimizer="adam", learning_rate=0.05,
                   iterations=6)
  result = style.style_transfer(features, CONTENT, STYLES, META, jax.random.key(0), config)
  # The spectrum encodes the content image (up to the sigmoid's margin): content loss ~ 0.
  assert np.all(result.loss_start["content"] < 1e-6)
  assert np.all(result.loss_end["total"] < result.loss_start["total"])
  low, high = META.input_bounds
  assert np.all(result.images >= low) and np.all(result.images <= high)


# ------------------------------------------------------------------ presets and the judge


@pytest.mark.parametrize("name", sorted(style.PRESETS))
def test_preset_layers_exist_in_their_network(name):
  from jaxviz.models import MobileNetV2  # pylint: disable=g-import-not-at-top

  config = style.preset(name)
  model = vgg.VGG(depth=19) if name.startswith("gatys") else MobileNetV2()
  x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x)
  taps.check_layer_names(model, variables, x.shape, config.layers)


def test_unknown_preset_lists_the_known_ones():
  with pytest.raises(ValueError, match="gatys_vgg19"):
    style.preset("picasso")


def test_heldout_judge_is_zero_for_the_style_itself_and_positive_otherwise():
  helpers.shared_asset("mobilenet_imagenet")
  judge = style.load_style_judge()
  rng = np.random.default_rng(0)
  painting = np.kron(rng.integers(0, 256, (2, 8, 8, 3)), np.ones((1, 8, 8, 1))).astype(np.uint8)
  photo = rng.integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)
  np.testing.assert_allclose(judge(painting, painting), [0.0, 0.0], atol=1e-6)
  assert np.all(judge(photo, painting) > 0.01)
  with pytest.raises(ValueError, match="uint8"):
    judge(photo.astype(np.float32), painting)
