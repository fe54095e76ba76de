"""Feature maps and batched (sharded) feature extraction (jaxviz.inspect.features)."""

import json
import os
import pathlib
import subprocess
import sys

import flax.serialization
import jax
import numpy as np
import pytest

from jaxviz.inspect import features
from jaxviz.inspect import top_activations
from jaxviz.models import mobilenet
from jaxviz.models import small_cnn
from jaxviz.models import taps
from jaxviz.plotting import inspect_plots
from tests import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _model():
  model = small_cnn.SmallCNN(num_classes=3, channels=(4, 6), hidden=5)
  return model, helpers.random_variables(model, (1, 28, 28, 1), bias_std=0.0)


def _images(n, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


def _to_inputs(pixels):
  return np.asarray(pixels, np.float32) / 255.0


def test_extraction_equals_the_per_batch_forward_pass():
  model, variables = _model()
  images = _images(37)
  out = features.extract_features(model, variables, images, "conv2", batch_size=16,
                                  preprocess=_to_inputs)
  assert out.shape == (37, 14, 14, 6) and out.dtype == np.float32
  for start in range(0, 37, 16):
    batch = _to_inputs(images[start:start + 16])
    expected = taps.activations(model, variables, batch, ["conv2"])["conv2"]
    np.testing.assert_allclose(out[start:start + 16], expected, rtol=1e-5, atol=1e-6)


def test_float_inputs_match_uint8_with_preprocess_and_nothing_recompiles():
  model, variables = _model()
  images = _images(20, seed=1)
  from_uint8 = features.extract_features(model, variables, images, "fc1", batch_size=8,
                                         preprocess=_to_inputs)
  size = features._layer_output._cache_size()  # pylint: disable=protected-access
  from_float = features.extract_features(model, variables, _to_inputs(images[:13]), "fc1",
                                         batch_size=8)
  np.testing.assert_array_equal(from_float, from_uint8[:13])
  # A different dataset size (other padding) reuses the same compiled pass.
  assert features._layer_output._cache_size() == size  # pylint: disable=protected-access


def test_extraction_bad_input_fails_before_any_work():
  model, variables = _model()
  with pytest.raises(ValueError, match="preprocess=meta.preprocess"):
    features.extract_features(model, variables, _images(3), "fc1", batch_size=2)
  with pytest.raises(ValueError, match="Valid layer names: .*'conv1'"):
    features.extract_features(model, variables, _to_inputs(_images(3)), "conv9", batch_size=2)
  with pytest.raises(ValueError, match="batch_size"):
    features.extract_features(model, variables, _to_inputs(_images(3)), "fc1", batch_size=0)
  with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
    features.extract_features(model, variables, np.zeros((3, 28, 28), np.float32), "fc1")


_SHARDED_SCRIPT = """
import json, sys
import flax.serialization, jax, numpy as np
from jaxviz import sharding
from jaxviz.inspect import features, top_activations
from jaxviz.models import small_cnn
model = small_cnn.SmallCNN(num_classes=3, channels=(4, 6), hidden=5)
template = jax.eval_shape(model.init, jax.random.key(0), np.zeros((1, 28, 28, 1), np.float32))
with open(sys.argv[1], "rb") as f:
  variables = flax.serialization.from_bytes(template, f.read())
images = np.load(sys.argv[2])
to_inputs = lambda b: b.astype(np.float32) / 255.0
mesh = sharding.batch_mesh()
batch = sharding.put_batch(np.zeros((16, 28, 28, 1), np.float32), mesh)
out = features.extract_features(model, variables, images, "conv2", batch_size=12,
                                preprocess=to_inputs)
top = top_activations.top_activating_inputs(model, variables, images, "conv2", [1, 4], k=3,
                                            batch_size=12, preprocess=to_inputs)
np.savez(sys.argv[3], features=out, indices=top.image_indices, values=top.values)
print(json.dumps({"devices": len(jax.local_devices()),
                  "shards": len(batch.addressable_shards),
                  "batch_size": sharding.round_up_batch(12, mesh)}))
"""


def test_sharded_over_8_host_devices_equals_single_device(tmp_path):
  model, variables = _model()
  images = _images(29, seed=2)
  (tmp_path / "vars.msgpack").write_bytes(flax.serialization.to_bytes(variables))
  np.save(tmp_path / "images.npy", images)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
  result = subprocess.run(
      [sys.executable, "-c", _SHARDED_SCRIPT, str(tmp_path / "vars.msgpack"),
       str(tmp_path / "images.npy"), str(tmp_path / "out.npz")],
      env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  info = json.loads(result.stdout.strip().splitlines()[-1])
  assert info == {"devices": 8, "shards": 8, "batch_size": 16}
  sharded = np.load(tmp_path / "out.npz")
  single = features.extract_features(model, variables, images, "conv2", batch_size=16,
                                     preprocess=_to_inputs)
  np.testing.assert_allclose(sharded["features"], single, rtol=1e-5, atol=1e-6)
  top = top_activations.top_activating_inputs(model, variables, images, "conv2", [1, 4], k=3,
                                              batch_size=16, preprocess=_to_inputs)
  np.testing.assert_array_equal(sharded["indices"], top.image_indices)
  np.testing.assert_allclose(sharded["values"], top.values, rtol=1e-5)


def test_feature_maps_select_channels_and_reject_bad_ones():
  model, variables = _model()
  x = _to_inputs(_images(2, seed=3))
  full = taps.activations(model, variables, x, ["conv1"])["conv1"]
  some = features.feature_maps(model, variables, x, "conv1", channels=[3, 0])
  np.testing.assert_array_equal(some, np.asarray(full)[..., [3, 0]])
  with pytest.raises(ValueError, match=r"Channel indices \[4\] out of range .* 4 channels"):
    features.feature_maps(model, variables, x, "conv1", channels=[0, 4])
  with pytest.raises(ValueError, match="Valid layer names"):
    features.feature_maps(model, variables, x, "nope")


def test_most_active_channels_orders_by_mean_activation():
  act = np.zeros((4, 4, 5), np.float32)
  act[..., 1] = 3.0
  act[..., 4] = 2.0
  act[0, 0, 2] = 1.0
  np.testing.assert_array_equal(features.most_active_channels(act, 3), [1, 4, 2])
  assert len(features.most_active_channels(act, 99)) == 5


def test_feature_map_figure_grid_for_spatial_and_stem_plot_for_dense():
  act = np.random.default_rng(4).random((6, 6, 3)).astype(np.float32)
  fig = inspect_plots.feature_map_figure(act, [5, 7, 9], image=np.zeros((6, 6, 1)))
  titles = [ax.get_title() for ax in fig.axes]
  assert titles[:4] == ["input", "ch 5", "ch 7", "ch 9"]
  assert fig.axes[1].images[0].get_cmap().name == "viridis"
  assert fig.axes[1].images[0].get_clim() == pytest.approx((act.min(), act.max()))
  assert fig.axes[-1].get_ylabel() == "activation"  # the shared colour bar
  dense = inspect_plots.feature_map_figure(np.arange(4.0), title="fc1")
  ax = dense.axes[-1]
  assert ax.get_xlabel() == "unit index" and not ax.images
  np.testing.assert_array_equal(ax.containers[0].markerline.get_ydata(), np.arange(4.0))
  with pytest.raises(ValueError, match=r"\[h, w, c\] or \[d\]"):
    inspect_plots.feature_map_figure(np.zeros((3, 3)))


def test_layer_names_come_from_capture_intermediates_in_output_order():
  model, variables = _model()
  assert taps.layer_names(model, variables, (1, 28, 28, 1)) == [
      "conv1", "pool1", "conv2", "pool2", "fc1", "logits"]
  net = mobilenet.MobileNetV2(width=0.35)
  shapes = jax.eval_shape(net.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 32, 32, 3),
                                                                            np.float32))
  names = taps.layer_names(net, shapes, (1, 32, 32, 3))
  block = names.index("expanded_conv_3")  # a block after its sublayers, before the next block
  assert names[block - 3:block + 2] == ["expanded_conv_3/expand", "expanded_conv_3/depthwise",
                                        "expanded_conv_3/project", "expanded_conv_3",
                                        "expanded_conv_4/expand"]
  x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype(np.float32)
  acts = taps.activations(model, variables, x, ["fc1", "conv1"])
  assert list(acts) == ["fc1", "conv1"] and acts["conv1"].shape == (2, 28, 28, 4)
  _, full = taps.flax_layer_fn(model, variables, "fc1")(x)
  np.testing.assert_array_equal(acts["fc1"], full)  # the same values as the perturbation tap
