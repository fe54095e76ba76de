"""jaxviz.models.vgg against a PyTorch torchvision-layout reference (needs torch; the
torch-free tests are in test_vgg_model.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz import assets
from jaxviz.models import taps
from jaxviz.models import vgg

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
nn = torch.nn
F = torch.nn.functional

WIDTH = 1 / 16  # Channels 4, 8, 16, 32, 32; fc6/fc7 256.


def _scaled(c):
  return max(1, int(round(c * WIDTH)))


class TorchVGG(nn.Module):
  """torchvision's VGG (no BN) with scaled widths; same state_dict keys."""

  def __init__(self, depth, num_classes):
    super().__init__()
    feats, in_ch = [], 3
    for v in vgg.CFGS[depth]:
      if v == "M":
        feats.append(nn.MaxPool2d(kernel_size=2, stride=2))
      else:
        feats += [nn.Conv2d(in_ch, _scaled(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        in_ch = _scaled(v)
    self.features = nn.Sequential(*feats)
    self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    hidden = _scaled(4096)
    self.classifier = nn.Sequential(
        nn.Linear(in_ch * 49, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, num_classes))
    # He-style init with random biases keeps activations O(1) through the net,
    # so that the logit comparison below is not between near-zero numbers.
    g = torch.Generator().manual_seed(depth)
    for m in self.modules():
      if isinstance(m, (nn.Conv2d, nn.Linear)):
        fan_in = m.weight[0].numel()
        m.weight.data = torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
        m.bias.data = torch.randn(m.bias.shape, generator=g) * 0.1
    self.eval()

  def forward(self, x):
    return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TimmStyleVGG(nn.Module):
  """timm's VGG forward: fc6 as 7x7 conv, fc7 as 1x1 conv, global pool, linear."""

  def __init__(self, tv):
    super().__init__()
    self.features = tv.features
    c, hidden = tv.classifier[0].in_features // 49, tv.classifier[0].out_features
    self.fc1 = nn.Conv2d(c, hidden, 7)
    self.fc2 = nn.Conv2d(hidden, hidden, 1)
    self.fc = tv.classifier[6]
    self.fc1.weight.data = tv.classifier[0].weight.data.reshape(hidden, c, 7, 7)
    self.fc1.bias.data = tv.classifier[0].bias.data
    self.fc2.weight.data = tv.classifier[3].weight.data.reshape(hidden, hidden, 1, 1)
    self.fc2.bias.data = tv.classifier[3].bias.data
    self.eval()

  def forward(self, x):
    x = F.relu(self.fc2(F.relu(self.fc1(self.features(x)))))
    return self.fc(x.mean((2, 3)))

  def timm_state_dict(self):
    sd = {f"features.{k}": v for k, v in self.features.state_dict().items()}
    sd.update({"pre_logits.fc1.weight": self.fc1.weight, "pre_logits.fc1.bias": self.fc1.bias,
               "pre_logits.fc2.weight": self.fc2.weight, "pre_logits.fc2.bias": self.fc2.bias,
               "head.fc.weight": self.fc.weight, "head.fc.bias": self.fc.bias})
    return {k: v.detach().contiguous() for k, v in sd.items()}


def _save(sd, path):
  safetensors_torch.save_file({k: v.detach().contiguous() for k, v in sd.items()}, str(path))
  return path


def _torch_run(model, x_nhwc):
  with torch.no_grad():
    return model(torch.from_numpy(x_nhwc.transpose(0, 3, 1, 2).copy())).numpy()


def _assert_close(jax_out, torch_out):
  jax_out, torch_out = np.asarray(jax_out), np.asarray(torch_out)
  assert jax_out.shape == torch_out.shape
  assert torch_out.std() > 0.1, "reference output is degenerate"
  np.testing.assert_array_less(np.abs(jax_out - torch_out).max(), 1e-4)


@pytest.fixture(scope="module")
def tv16(tmp_path_factory):
  """(torch model, safetensors path) of a narrow torchvision-layout VGG16."""
  model = TorchVGG(16, 1000)
  path = tmp_path_factory.mktemp("vgg") / "vgg16_tv.safetensors"
  return model, _save(model.state_dict(), path)


@pytest.mark.parametrize("depth,num_classes,size", [
    (16, 1000, (224, 224)),  # pool5 is 7x7: avgpool is the identity.
    (19, 10, (224, 224)),
    (16, 10, (64, 96)),  # pool5 is 2x3: avgpool upsamples to 7x7.
])
def test_torchvision_logits_match(tmp_path, depth, num_classes, size):
  tmodel = TorchVGG(depth, num_classes)
  path = _save(tmodel.state_dict(), tmp_path / f"vgg{depth}.safetensors")
  model, params, meta = vgg.load_vgg_safetensors(path, depth, width=WIDTH)
  assert model.num_classes == num_classes  # Read from the file.
  assert meta.name == f"vgg{depth}" and meta.num_classes == num_classes
  x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype(np.float32)
  _assert_close(jax.jit(model.apply)({"params": params}, x), _torch_run(tmodel, x))


def test_timm_layout_logits_match(tv16, tmp_path):
  tv, _ = tv16
  tm = TimmStyleVGG(tv)
  path = _save(tm.timm_state_dict(), tmp_path / "vgg16_timm.safetensors")
  model, params, _ = vgg.load_vgg_safetensors(path, 16, width=WIDTH)
  x = np.random.default_rng(1).normal(size=(2, 224, 224, 3)).astype(np.float32)
  _assert_close(jax.jit(model.apply)({"params": params}, x), _torch_run(tm, x))


def test_layer_names_and_activations(tv16):
  tmodel, path = tv16
  model, params, _ = vgg.load_vgg_safetensors(path, 16, width=WIDTH)
  x = np.random.default_rng(2).normal(size=(1, 224, 224, 3)).astype(np.float32)
  logits, state = model.apply({"params": params}, x, capture_intermediates=True)
  inter = state["intermediates"]
  expected = ("conv1_1", "conv1_2", "pool1", "conv2_1", "conv2_2", "pool2", "conv3_1",
              "conv3_2", "conv3_3", "pool3", "conv4_1", "conv4_2", "conv4_3", "pool4",
              "conv5_1", "conv5_2", "conv5_3", "pool5", "avgpool", "fc6", "fc7", "fc8")
  assert vgg.layer_names(16) == expected
  assert taps.layer_names(model, {"params": params}, (1, 224, 224, 3)) == list(expected)
  assert set(inter) - {"__call__"} == set(expected)
  assert set(params) == {n for n in expected if not n.startswith(("pool", "avg"))}
  with torch.no_grad():
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    conv1_1 = tmodel.features[:2](xt).numpy().transpose(0, 2, 3, 1)  # Conv + ReLU.
    conv5_3 = tmodel.features[:30](xt).numpy().transpose(0, 2, 3, 1)
    pool5 = tmodel.features(xt).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(inter["conv1_1"]["__call__"][0], conv1_1, atol=1e-5)
  np.testing.assert_allclose(inter["conv5_3"]["__call__"][0], conv5_3, atol=1e-4)
  np.testing.assert_allclose(inter["pool5"]["__call__"][0], pool5, atol=1e-4)
  np.testing.assert_array_equal(inter["fc8"]["__call__"][0], logits)
  assert float(inter["conv3_1"]["__call__"][0].min()) == 0.0  # Post-ReLU.


@pytest.mark.parametrize("size,out", [
    ((7, 7), (7, 7)), ((1, 1), (7, 7)), ((2, 3), (7, 7)), ((9, 13), (7, 7)),
    ((14, 28), (7, 7)), ((10, 5), (3, 2))])
def test_adaptive_avg_pool_matches_torch(size, out):
  x = np.random.default_rng(3).normal(size=(2, *size, 3)).astype(np.float32)
  want = F.adaptive_avg_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), out)
  got = vgg.adaptive_avg_pool2d(x, out)
  np.testing.assert_allclose(got, want.numpy().transpose(0, 2, 3, 1), atol=1e-6)


def test_default_path_under_data_dir(tv16, tmp_path, monkeypatch):
  _, path = tv16
  (tmp_path / "vgg").mkdir()
  (tmp_path / "vgg" / "vgg16.safetensors").write_bytes(path.read_bytes())
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path))
  _, params, _ = vgg.load_vgg_safetensors(None, 16, width=WIDTH)
  assert params["conv1_1"]["kernel"].shape == (3, 3, 3, 4)


@pytest.mark.parametrize("content", [b"", b"not a safetensors file" * 8, "truncated"])
def test_corrupt_file(tv16, tmp_path, content):
  _, good = tv16
  if content == "truncated":
    data = good.read_bytes()
    content = data[:len(data) // 2]
  bad = tmp_path / "bad.safetensors"
  bad.write_bytes(content)
  with pytest.raises(ValueError, match="bad.safetensors.*not a valid safetensors"):
    vgg.load_vgg_safetensors(bad, 16, width=WIDTH)


def test_missing_unexpected_and_misshaped_keys(tv16, tmp_path):
  tmodel, _ = tv16
  sd = dict(tmodel.state_dict())
  del sd["classifier.6.bias"]
  sd["features.2.weight"] = torch.zeros(4, 4, 5, 5)
  sd["features.1.running_mean"] = torch.zeros(4)
  path = _save(sd, tmp_path / "broken.safetensors")
  with pytest.raises(ValueError) as e:
    vgg.load_vgg_safetensors(path, 16, width=WIDTH)
  msg = str(e.value)
  assert "broken.safetensors" in msg
  assert "missing keys ['classifier.6.bias']" in msg
  assert "unexpected keys ['features.1.running_mean']" in msg
  assert "features.2.weight: (4, 4, 5, 5) (expected (4, 4, 3, 3))" in msg


def test_wrong_depth_or_width_is_reported(tv16):
  _, path = tv16
  with pytest.raises(ValueError, match="missing keys.*features.34.weight"):
    vgg.load_vgg_safetensors(path, 19, width=WIDTH)
  with pytest.raises(ValueError, match=r"features.0.weight: \(4, 3, 3, 3\) \(expected \(64"):
    vgg.load_vgg_safetensors(path, 16)  # Saved with width 1/16.


def test_unknown_layout_and_dtype(tmp_path):
  path = _save({"conv.weight": torch.zeros(3)}, tmp_path / "other.safetensors")
  with pytest.raises(ValueError, match="unknown VGG checkpoint layout.*conv.weight"):
    vgg.load_vgg_safetensors(path, 16)
  sd = TorchVGG(16, 10).state_dict()
  sd["features.0.bias"] = sd["features.0.bias"].to(torch.int32)
  path = _save(sd, tmp_path / "ints.safetensors")
  with pytest.raises(ValueError, match=r"unsupported dtypes.*features.0.bias: I32"):
    vgg.load_vgg_safetensors(path, 16, width=WIDTH)
