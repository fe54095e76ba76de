"""MobileNetV1/V2: TFLite and npz loaders, real ImageNet accuracy, bad input."""

import functools

import jax
import numpy as np
import pytest

from jaxviz import assets
from jaxviz import data
from jaxviz.models import mobilenet_loader
from jaxviz.models import registry
from jaxviz.models import tflite_reader
from tests import helpers


@functools.lru_cache(maxsize=None)
def _load(name, source):
  helpers.shared_asset("mobilenet_imagenet")
  return mobilenet_loader.load_mobilenet(name, source=source)


def _foolbox_inputs(meta):
  names, images, labels = data.labelled_images(helpers.shared_asset("foolbox_samples"), "imagenet_*")
  return names, data.prepare_for_model(images, meta), labels


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v1"])
def test_tflite_and_npz_give_identical_params(name):
  _, from_tflite, _ = _load(name, "tflite")
  _, from_npz, _ = _load(name, "npz")
  flat_a = jax.tree_util.tree_leaves_with_path(from_tflite)
  flat_b = dict(jax.tree_util.tree_leaves_with_path(from_npz))
  assert len(flat_a) == len(flat_b) > 20
  for path, leaf in flat_a:
    np.testing.assert_array_equal(np.asarray(leaf), np.asarray(flat_b[path]))


def test_tflite_dequantization_formula():
  path = helpers.shared_asset("mobilenet_imagenet/mobilenet_v1_0.25_128_quant.tflite")
  import tflite  # pylint: disable=g-import-not-at-top
  model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
  graph = model.Subgraphs(0)
  convs = tflite_reader.read_conv_weights(path)
  # Re-derive the first conv kernel by hand: scale * (q - zero_point), OHWI -> HWIO.
  op = next(graph.Operators(i) for i in range(graph.OperatorsLength())
            if model.OperatorCodes(graph.Operators(i).OpcodeIndex()).BuiltinCode() == 3)
  tensor = graph.Tensors(int(op.InputsAsNumpy()[1]))
  q = model.Buffers(tensor.Buffer()).DataAsNumpy().reshape(tensor.ShapeAsNumpy())
  scale = tensor.Quantization().ScaleAsNumpy()[0]
  zero = tensor.Quantization().ZeroPointAsNumpy()[0]
  expected = (scale * (q.astype(np.float64) - zero)).astype(np.float32).transpose(1, 2, 3, 0)
  np.testing.assert_array_equal(convs[0].kernel, expected)
  assert [c.stride for c in convs[:3]] == [2, 1, 1]


def test_mobilenet_v2_imagenet_accuracy_and_chelsea():
  model, params, meta = _load("mobilenet_v2", "tflite")
  assert meta.num_logits == 1001 and meta.label_offset == 1 and meta.input_range == (-1.0, 1.0)
  _, x, labels = _foolbox_inputs(meta)
  logits = np.asarray(jax.jit(model.apply)({"params": params}, x))
  top1 = meta.class_index(logits.argmax(-1))
  assert (top1 == labels).sum() >= 18
  cat = data.prepare_for_model([data.skimage_image("chelsea")], meta)
  name = meta.class_names[int(meta.class_index(model.apply({"params": params}, cat).argmax()))]
  assert "cat" in name


def test_mobilenet_v1_accuracy_matches_source():
  model, params, meta = _load("mobilenet_v1", "npz")
  _, x, labels = _foolbox_inputs(meta)
  top1 = meta.class_index(np.asarray(model.apply({"params": params}, x)).argmax(-1))
  assert (top1 == labels).sum() == 8  # published in the asset's SOURCE.txt


def test_fast_and_native_convs_agree():
  helpers.shared_asset("mobilenet_imagenet")
  _, params, meta = _load("mobilenet_v2", "npz")
  fast = mobilenet_loader.load_mobilenet("mobilenet_v2", impl="fast")[0]
  native = mobilenet_loader.load_mobilenet("mobilenet_v2", impl="native")[0]
  x = np.random.default_rng(0).uniform(-1, 1, (2,) + meta.input_shape).astype(np.float32)
  a = np.asarray(fast.apply({"params": params}, x))
  b = np.asarray(native.apply({"params": params}, x))
  np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-4)


def test_missing_weight_file_names_it_and_its_source(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
  with pytest.raises(assets.AssetNotFoundError, match=r"mobilenet_v2_1\.0_224_quant\.tflite.*"
                     r"google-coral/test_data"):
    mobilenet_loader.load_mobilenet("mobilenet_v2", source="tflite")


@pytest.mark.parametrize("source,suffix", [("tflite", ".tflite"), ("npz", ".npz")])
def test_corrupt_weight_file_is_a_clear_error(tmp_path, source, suffix):
  good = helpers.shared_asset("mobilenet_imagenet/mobilenet_v1_0.25_128_quant"
                      + ("_dequant_float32.npz" if source == "npz" else ".tflite"))
  bad = tmp_path / ("truncated" + suffix)
  bad.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 3])
  with pytest.raises(ValueError, match="truncated|corrupt"):
    mobilenet_loader.load_mobilenet("mobilenet_v1", source=source, path=bad)
  garbage = tmp_path / ("garbage" + suffix)
  garbage.write_bytes(b"not a model at all" * 10)
  with pytest.raises(ValueError, match="corrupt|not a TFLite"):
    mobilenet_loader.load_mobilenet("mobilenet_v1", source=source, path=garbage)


def test_unknown_names_list_the_known_ones():
  with pytest.raises(ValueError, match="mobilenet_v2.*vgg16.*small_cnn"):
    registry.load_model("resnet50")
  with pytest.raises(ValueError, match="known"):
    mobilenet_loader.load_mobilenet("mobilenet_v3")
  with pytest.raises(ValueError, match="source"):
    mobilenet_loader.load_mobilenet("mobilenet_v2", source="onnx")


def test_layer_names_follow_the_tf_graph():
  from jaxviz.models import taps  # pylint: disable=g-import-not-at-top
  model, params, meta = _load("mobilenet_v2", "npz")
  names = taps.layer_names(model, {"params": params}, (1,) + meta.input_shape)
  for name in ("Conv", "expanded_conv/depthwise", "expanded_conv_1/expand",
               "expanded_conv_16/project", "expanded_conv_16", "Conv_1", "pool", "Logits"):
    assert name in names
  assert names.index("Conv") < names.index("expanded_conv_5") < names.index("Logits")
