"""experiments.style_transfer end to end (smoke config: a tiny random CNN, scikit-image photos)."""

import json

import numpy as np
import PIL.Image
import pytest

from configs import style_transfer as style_config
from experiments import common
from experiments import style_transfer
from jaxviz import style


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("style")
  config = style_config.get_config("smoke")
  return [(common.execute(style_transfer.run, config, root / name), root / name)
          for name in ("first", "second")]


def test_files_summary_and_output_keys(runs):
  summary, workdir = runs[0]
  for name in ("style_transfer", "style_sweep", "style_remedies"):
    assert (workdir / f"{name}.png").stat().st_size > 10_000, name
  results = np.load(workdir / "style_transfer.npz")["results"]
  for i, name in enumerate(("coffee", "immunohistochemistry")):
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(workdir / f"result_{name}.png")),
                                  results[i])
  on_disk = json.loads((workdir / "summary.json").read_text())
  styles = ["coffee", "immunohistochemistry"]
  for key in ("loss_start", "loss_end"):
    assert sorted(on_disk[key]) == styles
    for terms in on_disk[key].values():
      assert set(terms) == set(style.TERMS) and all(np.isfinite(list(terms.values())))
  assert sorted(on_disk["heldout_style_distance"]) == styles
  for distance in on_disk["heldout_style_distance"].values():
    assert set(distance) == {"start", "end"} and distance["start"] > 0
  assert on_disk["iterations_per_second"] > 0
  assert set(on_disk["remedies"]) == {"main+swag+fourier+adam"}
  assert np.asarray(on_disk["sweep"]["style_loss_end"]).shape == (1, 2)
  assert on_disk["config"]["preset"] == "mobilenet_v2" and summary["skipped"] == {}
  assert not list(workdir.glob("*.tmp")) and not list(workdir.glob(".*.tmp"))


def test_results_are_8_bit_images_of_the_content_size_and_reproducible(runs):
  (_, first), (_, second) = runs
  arrays = np.load(first / "style_transfer.npz")
  assert arrays["results"].dtype == np.uint8 and arrays["results"].shape == (2, 32, 32, 3)
  assert arrays["content"].shape == (1, 32, 32, 3)
  assert arrays["history"].shape == (2, 4)
  for name in ("style_transfer", "style_sweep", "style_remedies"):
    a, b = np.load(first / f"{name}.npz"), np.load(second / f"{name}.npz")
    for key in a.files:
      np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")


def test_the_weight_sweep_trades_content_for_style(runs):
  summary, _ = runs[0]
  content = np.asarray(summary["sweep"]["content_loss_end"])[0]
  assert content[1] < content[0]  # Content weights 0.01 and 1000 (4 short L-BFGS steps).


def test_bad_config_is_rejected_before_any_work(tmp_path):
  config = style_config.get_config("smoke")
  config.sweep.styles = ("starry_night.jpg",)
  with pytest.raises(ValueError, match="sweep.styles"):
    style_transfer.run(config, tmp_path)
  config = style_config.get_config("smoke")
  config.remedies.names = ("main+sepia",)
  with pytest.raises(ValueError, match="sepia"):
    style_transfer.run(config, tmp_path)


def test_missing_judge_weights_skip_with_the_file_named(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path / "no_assets"))
  monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/jaxviz either
  config = style_config.get_config("smoke")
  config.judge = "mobilenet_v1"
  metrics = style_transfer.run(config, tmp_path / "out")
  assert set(metrics) == {"skipped"}
  assert "mobilenet_imagenet" in metrics["skipped"][config.model]
  assert not (tmp_path / "out" / "style_transfer.npz").exists()
