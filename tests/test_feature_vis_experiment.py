"""experiments.feature_vis end to end (smoke config: small CNN on 8x8 digits)."""

import json

import jax
import numpy as np
import pytest

from configs import feature_vis as feature_vis_config
from experiments import feature_vis
from experiments import inputs
from jaxviz import models
from jaxviz import synthesis
from tests import helpers


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("feature_vis")
  config = feature_vis_config.get_config("smoke")
  return config, helpers.smoke_runs_on_one_cnn(feature_vis.run, config, root)


def test_files_and_summary_keys(runs):
  _, (workdir, _) = runs
  assert (workdir / "feature_vis_small_cnn.png").stat().st_size > 10_000
  summary = json.loads((workdir / "summary.json").read_text())
  assert set(summary["activation_ratio"]) == {"conv2/0", "conv2/1"}
  # The smoke config runs the default (Fourier) parameterization only.
  assert set(summary["high_frequency_energy"]) == {"fourier"}
  assert 0 <= summary["high_frequency_energy"]["fourier"] <= 1
  assert (summary["activation_ratio_by_parameterization"]["fourier"]
          == summary["activation_ratio"])
  assert set(summary["targets_met"]) == {"every_channel_reaches_best_photo"}
  assert summary["skipped"] == {}
  assert not list(workdir.glob(".*.tmp"))


def test_same_config_same_arrays(runs):
  _, workdirs = runs
  for stem in ("feature_vis_small_cnn", "feature_vis_redirect_small_cnn"):
    paths = [w / f"{stem}.npz" for w in workdirs]
    if not paths[0].exists():
      continue
    a, b = (np.load(p) for p in paths)
    assert set(a.files) == set(b.files)
    for name in a.files:
      np.testing.assert_array_equal(a[name], b[name], err_msg=f"{stem} {name}")


def test_ratios_are_reached_over_the_best_test_image(runs):
  config, (workdir, _) = runs
  arrays = np.load(workdir / "feature_vis_small_cnn.npz")
  model, params, meta = models.load_trained(config.cnn_workdir)
  fn = synthesis.layer_fn(model, {"params": params}, "conv2", (1, 8, 8, 1))
  objective = synthesis.Objective("channel")
  test = inputs.load_test_split(config.cnn_train, config.small_cnn.num_photos)
  best, _ = synthesis.best_photo_activations(fn, objective, meta.preprocess(test.images),
                                             np.array([0, 1]))
  np.testing.assert_allclose(arrays["best_photo_conv2_fourier"], best, rtol=1e-5)
  images = meta.preprocess(np.round(arrays["images_conv2_fourier"] * 255))
  reached = synthesis.unit_activations(fn, objective, images, np.array([0, 1]))
  np.testing.assert_allclose(arrays["reached_conv2_fourier"], reached, rtol=0.05, atol=0.05)
  np.testing.assert_allclose(arrays["ratio_conv2_fourier"],
                             arrays["reached_conv2_fourier"] / best, rtol=1e-5)


def test_redirect_panel_uses_channels_dead_at_the_start(runs):
  config, (workdir, _) = runs
  assert tuple(config.small_cnn.redirect_layers) == ("fc1",)
  arrays = np.load(workdir / "feature_vis_redirect_small_cnn.npz")
  model, params, meta = models.load_trained(config.cnn_workdir)
  fn = synthesis.layer_fn(model, {"params": params}, "fc1", (1, 8, 8, 1))
  param = synthesis.fourier(meta, config.small_cnn.redirect_channels)
  preset = synthesis.preset(config.preset, meta)
  dead = feature_vis.dead_channels(fn, param, preset.config.transforms,
                                   jax.random.key(config.seed))
  channels = arrays["channels_fc1_plain"]
  assert len(channels) == 2 and set(channels) <= set(dead)
  for kind in ("plain", "redirected"):
    np.testing.assert_array_equal(arrays[f"objective_fc1_{kind}"][0], 0.0)  # dead at first
  # The redirect never does worse (8 smoke steps are too few to revive a unit; the
  # full run shows the revival, and tests/test_synthesis_ascent.py tests it).
  plain, redirected = arrays["reached_fc1_plain"], arrays["reached_fc1_redirected"]
  assert np.all(redirected >= plain - 1e-6)
  summary = json.loads((workdir / "summary.json").read_text())
  assert set(summary["redirect"]) == {f"fc1/{c}" for c in channels}


def test_bad_config_fails_before_any_work(tmp_path):
  config = feature_vis_config.get_config("smoke")
  config.preset = "deepdream"
  with pytest.raises(ValueError, match="config.preset"):
    feature_vis.run(config, tmp_path)
  config = feature_vis_config.get_config("smoke")
  config.small_cnn.layers = ("conv9",)
  config.cnn_workdir = str(tmp_path / "cnn")
  helpers.save_untrained_cnn(config.cnn_train, tmp_path / "cnn")
  with pytest.raises(ValueError, match="Valid layer names"):
    feature_vis.run(config, tmp_path / "run")
