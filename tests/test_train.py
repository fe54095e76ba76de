"""Training the small CNN: smoke run, checkpoint resume, reproducibility."""

import json

import jax
import numpy as np
import pytest

from configs import train as train_config
from experiments import common
from experiments import inputs
from experiments import train
from jaxviz import checkpoint
from jaxviz import data
from jaxviz import models


def _smoke_config(**overrides):
  config = train_config.get_config("smoke")  # bundled with scikit-learn: no asset needed
  config.checkpoint_every_steps = 5
  for k, v in overrides.items():
    setattr(config, k, v)
  return config


def test_smoke_run_writes_the_contract(tmp_path):
  summary = common.execute(train.run, _smoke_config(), tmp_path)
  on_disk = json.loads((tmp_path / "summary.json").read_text())
  assert on_disk["test_accuracy"] == summary["test_accuracy"]
  with np.load(tmp_path / "test_predictions.npz") as npz:  # the accuracy of the saved predictions
    assert on_disk["test_accuracy"] == np.mean(npz["predictions"] == npz["labels"])
    assert len(npz["labels"]) == 899  # the digits test split
  # Training is part of the run: its time is positive and within the run's wall time.
  assert 0 < on_disk["train_seconds"] < on_disk["wall_seconds"]
  assert on_disk["steps"] == 3 * (512 // 64)  # epochs * steps per epoch
  assert on_disk["config"]["model"] == "small_cnn"
  assert "jax" in on_disk["versions"]
  assert on_disk["test_accuracy"] > 0.4  # 24 steps on 8x8 digits beat chance (0.1)
  assert not list(tmp_path.rglob("*.tmp"))
  model, params, meta = models.load_trained(tmp_path)
  assert meta.input_shape == (8, 8, 1) and meta.num_classes == 10
  assert model.apply({"params": params}, np.zeros((1, 8, 8, 1), np.float32)).shape == (1, 10)


def test_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch):
  config = _smoke_config()
  reference = tmp_path / "reference"
  common.execute(train.run, config, reference)
  ref_params = checkpoint.restore(reference, final=True)["params"]

  killed = tmp_path / "killed"
  real_save = checkpoint.save
  calls = {"n": 0}

  def save_then_die(*args, **kwargs):
    out = real_save(*args, **kwargs)
    calls["n"] += 1
    if calls["n"] == 2:
      raise KeyboardInterrupt("simulated kill")
    return out

  monkeypatch.setattr(checkpoint, "save", save_then_die)
  with pytest.raises(KeyboardInterrupt):
    common.execute(train.run, config, killed)
  monkeypatch.setattr(checkpoint, "save", real_save)
  assert checkpoint.restore(killed)["step"] == 2 * config.checkpoint_every_steps
  assert not checkpoint.has_trained_model(killed)
  summary = common.execute(train.run, config, killed)
  assert summary["steps"] == 24
  resumed = checkpoint.restore(killed, final=True)["params"]
  for a, b in zip(jax.tree.leaves(ref_params), jax.tree.leaves(resumed)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_same_seed_same_arrays(tmp_path):
  config = _smoke_config(epochs=1)
  common.execute(train.run, config, tmp_path / "a")
  common.execute(train.run, config, tmp_path / "b")
  a = np.load(tmp_path / "a" / "test_predictions.npz")
  b = np.load(tmp_path / "b" / "test_predictions.npz")
  np.testing.assert_array_equal(a["predictions"], b["predictions"])


def test_load_trained_without_a_run_says_how_to_train(tmp_path):
  with pytest.raises(FileNotFoundError, match="experiments.train"):
    models.load_trained(tmp_path)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
  common.execute(train.run, _smoke_config(epochs=1), tmp_path)
  (tmp_path / "checkpoint" / checkpoint.FINAL_FILE).write_bytes(b"\x00garbage")
  with pytest.raises(ValueError, match="corrupt checkpoint"):
    models.load_trained(tmp_path)


def test_load_test_split_materialises_sources_and_limits(monkeypatch):
  full = data.Dataset(images=np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2, 1),
                            labels=np.arange(5, dtype=np.int32) % 2, class_names=("a", "b"),
                            name="toy/test")

  class Source:  # A TFDS-like source: no .images until materialised.
    def __len__(self):
      return len(full.labels)

    def to_dataset(self):
      return full

  requests = []
  monkeypatch.setattr(inputs.data, "load_dataset",
                      lambda name, split, data_dir=None: requests.append((name, split)) or Source())
  config = train_config.get_config("smoke")
  test = inputs.load_test_split(config, max_images=3)
  assert requests == [(config.dataset, "test")]
  np.testing.assert_array_equal(test.images, full.images[:3])
  np.testing.assert_array_equal(test.labels, full.labels[:3])
  assert test.class_names == ("a", "b") and test.name == "toy/test"
  assert inputs.load_test_split(config) is full
