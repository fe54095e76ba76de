"""End to end: the weights, activations and embedding runs with their smoke configs.

The models live on scikit-learn's 8x8 digits (bundled, no asset needed) so
these tests run anywhere; the Fashion-MNIST / MobileNetV2 paths are the same
code with bigger inputs. The small CNN is a checkpoint of random weights
(written once, so no test pays for compiling its training step; training is
tested in test_train.py); the linear model is trained on demand by the
weights run.
"""

import json

import numpy as np
import pytest

from configs import activations as activations_config
from configs import embedding as embedding_config
from configs import train as train_config
from configs import weights as weights_config
from experiments import activations
from experiments import common
from experiments import embedding
from experiments import inputs
from experiments import weights
from jaxviz import checkpoint
from jaxviz import data
from jaxviz import models
from tests import helpers


def _digits(config):
  config.dataset = "digits"
  config.max_train_examples = 512
  config.max_test_examples = 256
  config.batch_size = 64
  return config


@pytest.fixture(scope="module")
def cnn_workdir(tmp_path_factory):
  """A finished-training workdir holding the smoke CNN with random weights."""
  workdir = tmp_path_factory.mktemp("cnn")
  spec = inputs.model_spec(_digits(train_config.get_config("smoke")),
                          data.load_dataset("digits", "train"))
  model = models.build_small_model(spec)
  params = helpers.random_variables(model, (1, 8, 8, 1), bias_std=0.0)["params"]
  checkpoint.save(workdir, {"params": params, "step": 0}, spec, final=True)
  return str(workdir)


def _contract(workdir, pngs, npzs):
  summary = json.loads((workdir / "summary.json").read_text())
  for name in pngs:
    assert (workdir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
  for name in npzs:
    with np.load(workdir / name) as npz:
      assert npz.files, name
  assert not list(workdir.rglob("*.tmp"))
  assert "versions" in summary and "config" in summary
  return summary


def test_weights_run(tmp_path, cnn_workdir):
  config = weights_config.get_config("smoke")
  config.cnn_workdir = cnn_workdir
  _digits(config.cnn_train)
  _digits(config.linear_train)
  config.linear_train.epochs = 4
  config.linear_train.learning_rate = 0.05
  config.mobilenet = True
  config.mobilenet_weights = str(tmp_path / "missing.npz")
  common.execute(weights.run, config, tmp_path)
  summary = _contract(tmp_path, ["cnn_conv1_filters.png", "cnn_conv2_filters.png",
                                 "linear_class_templates.png"], ["weights.npz"])
  assert summary["mobilenet"]["status"].startswith("skipped: ")
  assert "missing.npz" in summary["mobilenet"]["status"]
  assert summary["linear_test_accuracy"] > 0.5  # digits are easy for a linear model
  assert summary["template_correlation_mean"] > 0.1  # random templates: about 0
  with np.load(tmp_path / "weights.npz") as npz:
    kernel, templates = npz["linear_kernel"], npz["linear_templates"]
    assert npz["cnn_conv1_filters"].shape == (config.cnn_train.channels[0], 3, 3, 1)
  np.testing.assert_array_equal(templates, kernel.T.reshape(10, 8, 8, 1))
  assert (tmp_path / "linear" / "checkpoint").is_dir()  # trained on demand in the workdir


def test_activations_run(tmp_path, cnn_workdir):
  config = activations_config.get_config("smoke")
  config.cnn_workdir = cnn_workdir
  _digits(config.cnn_train)
  config.top_layers = ("conv1",)  # conv2's 8x8 field covers a whole 8x8 digit
  config.max_images = 200
  summary = common.execute(activations.run, config, tmp_path)
  _contract(tmp_path, ["cnn_maps_conv1.png", "cnn_maps_conv2.png", "cnn_maps_fc1.png",
                       "top_activations_conv1.png"],
            ["cnn_feature_maps.npz", "top_activations_conv1.npz"])
  assert summary["receptive_fields"] == {"conv1": {"size": [3, 3], "stride": [1, 1],
                                                   "offset": [-1, -1]}}
  assert summary["num_images_searched"] == 200
  assert summary["mobilenet"]["status"] == "skipped: disabled in the config"
  assert summary["cnn_layer_shapes"]["fc1"] == [32]
  with np.load(tmp_path / "top_activations_conv1.npz") as npz:
    values = npz["values"]
    assert values.shape == (3, 3) and np.all(np.diff(values, axis=1) <= 0)
    assert npz["patches"].shape == (3, 3, 3, 3, 1)
  assert summary["top_values"]["conv1"]["0"] == pytest.approx(values[0].tolist())


def test_activations_run_rejects_unknown_layers_before_work(tmp_path, cnn_workdir):
  config = activations_config.get_config("smoke")
  config.cnn_workdir = cnn_workdir
  _digits(config.cnn_train)
  config.cnn_layers = ("conv1", "conv7")
  with pytest.raises(ValueError, match="Valid layer names"):
    activations.run(config, tmp_path)
  assert not list(tmp_path.glob("*.png"))


def test_embedding_run(tmp_path, cnn_workdir):
  config = embedding_config.get_config("smoke")
  config.cnn_workdir = cnn_workdir
  _digits(config.cnn_train)
  summary = common.execute(embedding.run, config, tmp_path)
  _contract(tmp_path, ["embedding_scatter.png", "mosaic_pixels_tsne.png",
                       "mosaic_features_tsne.png"], ["embedding.npz"])
  knn = summary["knn5_agreement"]
  assert set(knn) == {"pixels", "features"}
  for space in knn.values():
    assert set(space) == {"raw", "tsne"}
    assert all(0.3 < v <= 1.0 for v in space.values())  # well above chance (0.1)
  with np.load(tmp_path / "embedding.npz") as npz:
    assert npz["features_tsne"].shape == (150, 2) and npz["features"].shape == (150, 32)
    assert len(np.unique(npz["indices"])) == 150


def test_embedding_run_too_few_images_for_the_perplexity(tmp_path, cnn_workdir):
  config = embedding_config.get_config("smoke")
  config.cnn_workdir = cnn_workdir
  _digits(config.cnn_train)
  config.num_images = 20
  with pytest.raises(ValueError, match="t-SNE with perplexity 10.0"):
    embedding.run(config, tmp_path)
