"""Cross-check of jaxviz attributions against Captum on the same small CNN.

The PyTorch twin of ``jaxviz.models.small_cnn.SmallCNN`` gets the very same
random weights (HWIO -> OIHW kernels, [I, O] -> [O, I] dense weights) and
flattens its activations in NHWC order, as Flax does. Maps are compared whole
(relative max error, or correlation where a few units sitting on a ReLU
threshold may flip across frameworks).

Captum's guided backprop and deconvolution hook only ``torch.nn.ReLU``
modules: a model using ``nn.ReLU6`` (or ``F.relu6``) would silently get the
plain gradient through those rectifiers. The ReLU6 variant below therefore
uses a ``ReLU6`` that *subclasses* ``nn.ReLU``, so Captum applies its rule
(``relu(grad_input)`` for guided backprop, ``relu(grad_output)`` for
deconvolution) to it, which matches ``backward_rules``' ReLU6 rules.
"""

from __future__ import annotations

import functools

import flax.linen as flax_nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.attribution import cam
from jaxviz.attribution import gradients
from jaxviz.attribution import reductions
from jaxviz.models import layers
from jaxviz.models import pooling
from jaxviz.models import small_cnn
from jaxviz.models import taps
from tests import helpers

torch = pytest.importorskip("torch")
captum_attr = pytest.importorskip("captum.attr")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning")

B, S, C_IN, CHANNELS, HIDDEN, CLASSES = 3, 12, 3, (4, 8), 16, 10
TARGETS = np.array([2, 7, 4])


class ReLU6(nn.ReLU):
  """ReLU6 as an ``nn.ReLU`` subclass, so Captum's backward hooks see it."""

  def forward(self, x):
    return F.relu6(x)


class TorchCNN(nn.Module):
  """conv1 -> pool1 -> conv2 -> pool2 -> fc1 -> logits, NHWC flatten."""

  def __init__(self, act):
    super().__init__()
    c1, c2 = CHANNELS
    self.conv1 = nn.Sequential(nn.Conv2d(C_IN, c1, 3, padding=1), act())
    self.pool1 = nn.MaxPool2d(2)
    self.conv2 = nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1), act())
    self.pool2 = nn.MaxPool2d(2)
    self.fc1 = nn.Sequential(nn.Linear(c2 * (S // 4) ** 2, HIDDEN), act())
    self.logits = nn.Linear(HIDDEN, CLASSES)

  def forward(self, x):
    h = self.pool2(self.conv2(self.pool1(self.conv1(x))))
    h = h.permute(0, 2, 3, 1).flatten(1)  # Flax flattens NHWC.
    return self.logits(self.fc1(h))

  def load_flax(self, params):
    def t(a):
      return torch.from_numpy(np.array(a))

    for name in ("conv1", "conv2"):
      self.get_submodule(name)[0].weight.data = t(params[name]["kernel"]).permute(3, 2, 0, 1)
      self.get_submodule(name)[0].bias.data = t(params[name]["bias"])
    self.fc1[0].weight.data = t(params["fc1"]["kernel"]).T.contiguous()
    self.fc1[0].bias.data = t(params["fc1"]["bias"])
    self.logits.weight.data = t(params["logits"]["kernel"]).T.contiguous()
    self.logits.bias.data = t(params["logits"]["bias"])
    return self.eval()


class FlaxCNN6(flax_nn.Module):
  """SmallCNN's layout with ReLU6 activations."""

  @flax_nn.compact
  def __call__(self, x):
    h = layers.Conv(CHANNELS[0], 3, activation="relu6", name="conv1")(x)
    h = pooling.MaxPool(name="pool1")(h)
    h = layers.Conv(CHANNELS[1], 3, activation="relu6", name="conv2")(h)
    h = pooling.MaxPool(name="pool2")(h)
    h = layers.Dense(HIDDEN, activation="relu6", name="fc1")(h.reshape(h.shape[0], -1))
    return layers.Dense(CLASSES, name="logits")(h)


def _setup(kind):
  """(jax model fn f, conv2 layer fn, x NHWC, torch model, x NCHW)."""
  x = jnp.asarray(np.random.default_rng(0).uniform(size=(B, S, S, C_IN)), jnp.float32)
  if kind == "relu":
    model, act, scale = small_cnn.SmallCNN(CLASSES, CHANNELS, HIDDEN), nn.ReLU, 1.0
  else:  # Larger weights so that some units saturate at 6.
    model, act, scale = FlaxCNN6(), ReLU6, 3.0
  variables = helpers.random_variables(model, x, seed=1, kernel_gain=scale * np.sqrt(2.0))
  f = functools.partial(model.apply, variables)
  layer_fn = taps.flax_layer_fn(model, variables, "conv2")
  net = TorchCNN(act).load_flax(variables["params"])
  x_torch = torch.from_numpy(np.array(x)).permute(0, 3, 1, 2).contiguous()
  return f, layer_fn, x, net, x_torch


@pytest.fixture(scope="module", params=["relu", "relu6"])
def setup(request):
  return request.param, _setup(request.param)


def _nhwc(t):
  return t.detach().permute(0, 2, 3, 1).numpy()


def _assert_maps_close(got, want, what):
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  assert got.shape == want.shape, (what, got.shape, want.shape)
  scale = np.abs(want).max()
  assert scale > 0, f"{what}: the reference map is all zeros"
  rel = np.abs(got - want).max() / scale
  corr = np.corrcoef(got.ravel(), want.ravel())[0, 1]
  assert rel <= 1e-4 or corr > 0.9999, f"{what}: relative max error {rel:.2e}, correlation {corr}"


def _captum(method, x_torch, **kwargs):
  inp = x_torch.clone().requires_grad_()
  return method.attribute(inp, target=torch.from_numpy(TARGETS), **kwargs)


def test_same_logits(setup):
  kind, (f, _, x, net, x_torch) = setup
  with torch.no_grad():
    want = net(x_torch).numpy()
  np.testing.assert_allclose(f(x), want, rtol=1e-4, atol=1e-5)
  if kind == "relu6":  # The variant does exercise the upper clip.
    acts = taps.activations(FlaxCNN6(), f.args[0], x, ["conv2", "fc1"])  # args[0]: variables.
    assert all(np.any(np.asarray(a) >= 6) for a in acts.values())


def test_saliency(setup):
  _, (f, _, x, net, x_torch) = setup
  want = _nhwc(_captum(captum_attr.Saliency(net), x_torch, abs=True))
  grads = gradients.input_gradients(f, x, jnp.asarray(TARGETS))
  _assert_maps_close(jnp.abs(grads), want, "saliency |grad|")
  _assert_maps_close(reductions.saliency_map(f, x, jnp.asarray(TARGETS)), want.max(-1),
                     "saliency max over channels")


@pytest.mark.parametrize("rule, method", [("guided_backprop", "GuidedBackprop"),
                                          ("deconvnet", "Deconvolution")])
def test_backward_rules(setup, rule, method):
  _, (f, _, x, net, x_torch) = setup
  want = _nhwc(_captum(getattr(captum_attr, method)(net), x_torch))
  got = gradients.input_gradients(f, x, jnp.asarray(TARGETS), rule=rule)
  _assert_maps_close(got, want, rule)
  # The rule changes the map: it is not the plain gradient.
  plain = gradients.input_gradients(f, x, jnp.asarray(TARGETS))
  assert np.abs(np.asarray(got) - np.asarray(plain)).max() > 1e-3 * np.abs(want).max()


def test_layer_grad_cam(setup):
  _, (_, layer_fn, x, net, x_torch) = setup
  want = _captum(captum_attr.LayerGradCam(net, net.conv2), x_torch,
                 relu_attributions=True)[:, 0].detach().numpy()
  got = cam.grad_cam(layer_fn, x, jnp.asarray(TARGETS), upsample=False)
  _assert_maps_close(got, want, "LayerGradCam")


def test_guided_grad_cam(setup):
  _, (f, layer_fn, x, net, x_torch) = setup
  want = _nhwc(_captum(captum_attr.GuidedGradCam(net, net.conv2), x_torch,
                       interpolate_mode="bilinear"))
  got = cam.guided_grad_cam(f, layer_fn, x, jnp.asarray(TARGETS))
  _assert_maps_close(got, want, "GuidedGradCam")


@pytest.mark.parametrize("low, high", [((2, 2), (4, 4)), ((3, 5), (8, 12)), ((7, 7), (28, 28))])
def test_bilinear_upsampling_matches_torch_align_corners_false(low, high):
  maps = np.random.default_rng(3).normal(size=(2, 1) + low).astype(np.float32)
  want = F.interpolate(torch.from_numpy(maps), size=high, mode="bilinear",
                       align_corners=False).numpy()
  got = jax.image.resize(jnp.asarray(maps), maps.shape[:2] + high, "bilinear")
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  corners = F.interpolate(torch.from_numpy(maps), size=high, mode="bilinear",
                          align_corners=True).numpy()
  assert not np.allclose(got, corners, atol=1e-3)  # The other convention differs.
