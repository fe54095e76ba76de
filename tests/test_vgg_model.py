"""jaxviz.models.vgg without PyTorch: layer names, pooling checks, the random builder,
metadata, and the loader's errors (the PyTorch cross-checks are in test_vgg.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors import numpy as safetensors_numpy

from jaxviz import assets
from jaxviz.models import vgg

WIDTH = 1 / 16  # Channels 4, 8, 16, 32, 32; fc6/fc7 256.


def test_layer_names_vgg19():
  names = vgg.layer_names(19)
  assert names[:3] == ("conv1_1", "conv1_2", "pool1")
  assert "conv5_4" in names and "conv3_4" in names and len(names) == 16 + 5 + 1 + 3
  assert "conv5_4" not in vgg.layer_names(16)
  with pytest.raises(ValueError, match="depth"):
    vgg.layer_names(11)


def test_adaptive_avg_pool_rejects_bad_input():
  with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
    vgg.adaptive_avg_pool2d(jnp.zeros((7, 7, 3)))
  with pytest.raises(ValueError, match="positive"):
    vgg.adaptive_avg_pool2d(jnp.zeros((1, 7, 7, 3)), (0, 7))


def test_builder_and_meta():
  model, params, meta = vgg.vgg_builder(19, width=WIDTH, seed=1)
  assert params["conv5_4"]["kernel"].shape == (3, 3, 32, 32)
  assert params["fc6"]["kernel"].shape == (32 * 49, 256)
  assert params["fc8"]["kernel"].shape == (256, 1000)
  np.testing.assert_allclose(np.std(params["fc6"]["kernel"]), np.sqrt(2 / (32 * 49)), rtol=0.02)
  np.testing.assert_array_equal(params["fc7"]["bias"], 0.0)
  x = np.random.default_rng(4).normal(size=(3, 32, 32, 3)).astype(np.float32)
  out = jax.jit(model.apply)({"params": params}, x)
  assert out.shape == (3, 1000) and float(jnp.std(out)) > 0.1  # He init: O(1) logits.
  assert meta.name == "vgg19" and meta.input_shape == (224, 224, 3) and meta.label_offset == 0
  assert meta.mean == (0.485, 0.456, 0.406) and meta.std == (0.229, 0.224, 0.225)
  assert len(meta.class_names) == 1000
  try:
    assets.find_asset(vgg.LABELS_ASSET)
  except assets.AssetNotFoundError:
    assert meta.class_names[0] == "class_0"
  else:
    assert meta.class_names[0].startswith("tench")
    assert meta.class_names[999].startswith("toilet tissue")
  _, params2, _ = vgg.vgg_builder(19, width=WIDTH, seed=2)
  assert not np.allclose(params["conv1_1"]["kernel"], params2["conv1_1"]["kernel"])


def test_class_names_fallback(monkeypatch, tmp_path):
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
  _, _, meta = vgg.vgg_builder(16, width=WIDTH)
  assert meta.class_names[:2] == ("class_0", "class_1") and meta.num_classes == 1000


def test_model_rejects_bad_config():
  x = jnp.zeros((1, 31, 64, 3))
  with pytest.raises(ValueError, match="H, W >= 32"):
    vgg.VGG(16, width=WIDTH).init(jax.random.key(0), x)
  with pytest.raises(ValueError, match="depth"):
    vgg.vgg_builder(13)
  with pytest.raises(ValueError, match="width"):
    vgg.vgg_builder(16, width=0.0)


def test_missing_file_names_file_and_source(tmp_path, monkeypatch):
  missing = tmp_path / "nope" / "vgg16.safetensors"
  with pytest.raises(assets.AssetNotFoundError) as e:
    vgg.load_vgg_safetensors(missing, 16)
  msg = str(e.value)
  assert str(missing) in msg and "vgg16-397923af" in msg and "vgg16.tv_in1k" in msg
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
  with pytest.raises(assets.AssetNotFoundError, match="vgg/vgg19.safetensors"):
    vgg.load_vgg_safetensors(None, 19)


def test_unknown_layout_and_unsupported_dtype(tmp_path):
  path = tmp_path / "other.safetensors"
  safetensors_numpy.save_file({"conv.weight": np.zeros(3, np.float32)}, str(path))
  with pytest.raises(ValueError, match="unknown VGG checkpoint layout.*conv.weight"):
    vgg.load_vgg_safetensors(path, 16)
  state = {"classifier.0.weight": np.zeros((256, 32 * 49), np.float32),
           "features.0.bias": np.zeros(4, np.int32)}
  path = tmp_path / "ints.safetensors"
  safetensors_numpy.save_file(state, str(path))
  with pytest.raises(ValueError, match=r"unsupported dtypes.*features.0.bias: I32"):
    vgg.load_vgg_safetensors(path, 16, width=WIDTH, num_classes=10)
