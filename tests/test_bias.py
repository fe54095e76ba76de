"""Detecting bias: mark corruption, saliency-in-region fractions, figures, smoke run."""

from __future__ import annotations

import functools
import json

import jax
import numpy as np
import pytest

from PIL import Image

from configs import bias as bias_config
from experiments import bias as bias_run
from experiments import common
from experiments import inputs
from jaxviz import training
from jaxviz.attribution import bias
from jaxviz.data import marks
from jaxviz.plotting import bias_plots

SUMMARY_KEYS = ("mark_saliency_fraction_biased", "mark_saliency_fraction_clean",
                "biased_class_accuracy_clean_test_biased_model",
                "biased_class_accuracy_clean_test_clean_model")


def _images(n=6, h=7, w=5, c=2, seed=0):
  return np.random.default_rng(seed).integers(0, 200, (n, h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("corner, rows, cols", [("top_left", (0, 3), (0, 3)),
                                                ("top_right", (0, 3), (2, 5)),
                                                ("bottom_left", (4, 7), (0, 3)),
                                                ("bottom_right", (4, 7), (2, 5))])
def test_mark_region_is_the_corner_square(corner, rows, cols):
  region = marks.mark_region((7, 5), 3, corner)
  expected = np.zeros((7, 5), bool)
  expected[rows[0]:rows[1], cols[0]:cols[1]] = True
  np.testing.assert_array_equal(region, expected)


@pytest.mark.parametrize("kwargs, match", [({"shape": (7, 5, 1)}, "shape must be"),
                                           ({"size": 6}, r"size must be in \[1, 5\]"),
                                           ({"size": 0}, "size must be a positive int"),
                                           ({"corner": "centre"}, "Unknown corner")])
def test_mark_region_rejects_bad_arguments(kwargs, match):
  args = {"shape": (7, 5), "size": 2, "corner": "top_left", **kwargs}
  with pytest.raises(ValueError, match=match):
    marks.mark_region(**args)


def test_add_mark_only_touches_the_region_of_masked_images():
  images = _images()
  mask = np.array([True, False, True, False, False, True])
  out = np.asarray(marks.add_mark(images, mask, size=2, corner="bottom_right", value=255))
  assert out.dtype == np.uint8 and out.shape == images.shape
  region = marks.mark_region((7, 5), 2, "bottom_right")
  touched = mask[:, None, None, None] & region[None, :, :, None] & np.ones_like(images, bool)
  np.testing.assert_array_equal(out[touched], 255)
  np.testing.assert_array_equal(out[~touched], images[~touched])


def test_add_mark_on_float_inputs_and_under_jit():
  x = _images().astype(np.float32) / 255.0
  mask = np.array([False, True, False, False, True, False])
  mark = jax.jit(functools.partial(marks.add_mark, size=3, corner="top_left", value=1.0))
  out = np.asarray(mark(x, mask))
  assert out.dtype == np.float32
  np.testing.assert_array_equal(out[mask][:, :3, :3], 1.0)
  np.testing.assert_array_equal(out[~mask], x[~mask])
  np.testing.assert_array_equal(out[mask][:, 3:], x[mask][:, 3:])


@pytest.mark.parametrize("images, mask, value, match", [
    (np.zeros((2, 4, 4), np.uint8), np.ones(2, bool), 255, r"\[N, H, W, C\]"),
    (np.zeros((2, 4, 4, 1), np.uint8), np.ones(3, bool), 255, "mask must be a bool array"),
    (np.zeros((2, 4, 4, 1), np.uint8), np.ones(2, np.int32), 255, "mask must be a bool array"),
    (np.zeros((2, 4, 4, 1), np.uint8), np.ones(2, bool), 256, "not representable"),
    (np.zeros((2, 4, 4, 1), np.float32), np.ones(2, bool), np.inf, "finite"),
])
def test_add_mark_rejects_bad_input(images, mask, value, match):
  with pytest.raises(ValueError, match=match):
    marks.add_mark(images, mask, size=2, value=value)


@pytest.mark.parametrize("fraction, expected", [(0.0, 0), (0.5, 6), (0.95, 11), (1.0, 12),
                                                (0.625, 8)])  # 7.5 rounds half to even
def test_biased_dataset_marks_exactly_the_requested_share_of_the_target_class(fraction,
                                                                              expected):
  labels = np.tile(np.arange(4, dtype=np.int32), 12)  # 12 images of each of 4 classes
  images = _images(n=48)
  out, marked = marks.biased_dataset(images, labels, target_class=2, key=jax.random.key(3),
                                    fraction=fraction, size=2)
  out, marked = np.asarray(out), np.asarray(marked)
  assert marked.sum() == expected
  assert np.all(labels[marked] == 2)
  np.testing.assert_array_equal(out, np.asarray(marks.add_mark(images, marked, size=2)))


def test_biased_dataset_choice_depends_only_on_the_key():
  labels = np.repeat(np.arange(2, dtype=np.int32), 50)
  images = _images(n=100)
  pick = lambda k: np.asarray(marks.biased_dataset(images, labels, target_class=1,
                                                  key=jax.random.key(k), fraction=0.5)[1])
  np.testing.assert_array_equal(pick(0), pick(0))
  assert not np.array_equal(pick(0), pick(1))


@pytest.mark.parametrize("kwargs, match", [({"fraction": 1.5}, r"fraction must be in \[0, 1\]"),
                                           ({"target_class": 7}, "No image has label"),
                                           ({"labels": np.zeros(4, np.float32)}, "labels must")])
def test_biased_dataset_rejects_bad_input(kwargs, match):
  args = {"images": _images(n=4), "labels": np.zeros(4, np.int32), "target_class": 0,
          "key": jax.random.key(0), **kwargs}
  with pytest.raises(ValueError, match=match):
    marks.biased_dataset(**args)


def test_saliency_fraction_on_hand_made_maps():
  region = marks.mark_region((4, 5), 2, "top_right")
  inside = np.where(region, 3.0, 0.0)  # all mass in the region -> 1
  uniform = np.ones((4, 5))  # -> area fraction 4 / 20
  half = np.zeros((4, 5))
  half[0, 4], half[3, 0] = 2.0, 2.0  # half the mass in the region -> 0.5
  maps = np.stack([inside, uniform, half]).astype(np.float32)
  np.testing.assert_allclose(bias.region_saliency_fractions(maps, region), [1.0, 0.2, 0.5],
                             rtol=1e-6)
  np.testing.assert_allclose(bias.mark_saliency_fraction(maps, region), 1.7 / 3, rtol=1e-6)
  np.testing.assert_allclose(bias.mark_saliency_fraction(maps[1:2], region), region.mean())
  np.testing.assert_allclose(jax.jit(bias.mark_saliency_fraction)(maps, region), 1.7 / 3,
                             rtol=1e-6)


def test_saliency_fraction_of_an_empty_map_is_nan():
  region = marks.mark_region((3, 3), 1)
  out = bias.region_saliency_fractions(np.stack([np.zeros((3, 3)), np.ones((3, 3))])
                                       .astype(np.float32), region)
  assert np.isnan(out[0]) and np.isclose(out[1], 1 / 9)


@pytest.mark.parametrize("maps, region, match", [
    (np.ones((4, 5), np.float32), np.ones((4, 5), bool), r"\[N, H, W\]"),
    (np.ones((2, 4, 5), np.float32), np.ones((5, 4), bool), "region must be a bool array"),
    (np.ones((2, 4, 5), np.float32), np.ones((4, 5), np.int32), "region must be a bool array"),
    (-np.ones((2, 4, 5), np.float32), np.ones((4, 5), bool), "non-negative"),
    (np.full((2, 4, 5), np.nan, np.float32), np.ones((4, 5), bool), "NaN"),
    (np.ones((2, 4, 5), np.int32), np.ones((4, 5), bool), "floating"),
])
def test_saliency_fraction_rejects_bad_input(maps, region, match):
  with pytest.raises(ValueError, match=match):
    bias.region_saliency_fractions(maps, region)


def test_overlay_figure_has_one_colour_bar_per_map_row():
  images = np.random.default_rng(0).random((3, 6, 6, 1))
  maps = np.random.default_rng(1).random((3, 6, 6))
  fig = bias_plots.saliency_overlay_figure([images, images, images], [None, maps, maps],
                                           ["image", "a", "b"], captions=[["x"] * 3] * 3,
                                           region=marks.mark_region((6, 6), 2), title="t")
  panels = [ax for ax in fig.axes if ax.get_images()]
  colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
  assert len(panels) == 9 and len(colorbars) == 2
  assert len(panels[3].get_images()) == 2  # image + heatmap
  assert panels[0].patches  # the region outline
  with pytest.raises(ValueError, match="Row 1"):
    bias_plots.saliency_overlay_figure([images, images], [None, maps[:, :5]], ["a", "b"])
  with pytest.raises(ValueError, match="same non-zero number of rows"):
    bias_plots.saliency_overlay_figure([images], [None, maps], ["a"])


def test_summary_bars_draws_every_value_and_the_chance_line():
  fig = bias_plots.summary_bars([
      bias_plots.BarPanel("s", "fraction", {"clean": 0.1, "biased": 0.7}, 0.02),
      bias_plots.BarPanel("a", "accuracy", {"clean": 0.6, "biased": 0.2}, 0.1)])
  for ax, values, chance in zip(fig.axes, ([0.1, 0.7], [0.6, 0.2]), (0.02, 0.1)):
    np.testing.assert_allclose([p.get_height() for p in ax.patches], values)
    assert np.isclose(ax.get_lines()[0].get_ydata()[0], chance)


def test_smoke_run_writes_the_contract_and_reuses_its_models(tmp_path, monkeypatch):
  config = bias_config.get_config("smoke")
  summary = common.execute(bias_run.run, config, tmp_path)
  on_disk = json.loads((tmp_path / "summary.json").read_text())
  assert {k: on_disk[k] for k in SUMMARY_KEYS} == {k: summary[k] for k in SUMMARY_KEYS}
  assert on_disk["mark_area_fraction"] == 4 / 64
  assert on_disk["biased_class"] == "8"
  # The digits smoke run already shows the effect: the mark draws saliency and
  # predictions towards the biased class.
  assert summary["mark_saliency_fraction_biased"] > 1.5 * summary["mark_saliency_fraction_clean"]
  shortcut = "other_classes_predicted_as_biased_class_marked_test_{}_model"
  assert summary[shortcut.format("biased")] > 3 * summary[shortcut.format("clean")]
  for name, min_size in (("saliency_examples.png", (400, 400)), ("summary.png", (600, 200))):
    with Image.open(tmp_path / name) as png:  # a real, readable figure of a plausible size
      assert png.size[0] >= min_size[0] and png.size[1] >= min_size[1], (name, png.size)
  preds = np.load(tmp_path / "predictions.npz")
  is_target = preds["labels"] == 8
  for model in ("clean", "biased"):  # the accuracies are those of the saved predictions
    pred = preds[f"{model}_model_clean_test"]
    assert summary[f"biased_class_accuracy_clean_test_{model}_model"] == np.mean(
        pred[is_target] == 8)
    assert summary[f"test_accuracy_clean_{model}_model"] == np.mean(pred == preds["labels"])
  arrays = np.load(tmp_path / "bias_saliency.npz")
  n = summary["num_biased_class_test_images"]
  assert arrays["maps_biased_model_marked_test"].shape == (n, 8, 8)
  np.testing.assert_allclose(
      bias.mark_saliency_fraction(arrays["maps_biased_model_marked_test"], arrays["region"]),
      summary["mark_saliency_fraction_biased"], rtol=1e-6)
  assert not list(tmp_path.rglob("*.tmp"))

  def no_training(*args, **kwargs):
    raise AssertionError("the trained model should have been reused")

  monkeypatch.setattr(training, "train", no_training)
  ds = inputs.load_in_memory("digits", "train", "")
  spec = bias_run.expected_spec(config, ds, biased=True)
  bias_run.check_reusable(spec, tmp_path / "biased")
  model, params = bias_run.train_or_load(config, spec, ds.images, ds.labels, tmp_path / "biased")
  x = arrays["images_marked"].astype(np.float32) / 255
  np.testing.assert_array_equal(training.predict_labels(model, params, x),
                                preds["biased_model_marked_test"][preds["labels"] == 8])

  config.fraction = 0.5
  with pytest.raises(ValueError, match="different config"):
    bias_run.run(config, tmp_path)


def test_bad_target_class_fails_before_training(tmp_path):
  config = bias_config.get_config("smoke")
  config.target_class = 10
  with pytest.raises(ValueError, match=r"target_class must be in \[0, 10\)"):
    bias_run.run(config, tmp_path)
  assert not (tmp_path / "biased").exists()


def test_unknown_variant():
  with pytest.raises(ValueError, match="Unknown variant"):
    bias_config.get_config("big")
