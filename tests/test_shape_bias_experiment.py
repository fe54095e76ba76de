"""experiments.shape_bias end to end (smoke: generated folder, random MobileNetV1 0.25)."""

import json

import numpy as np
import pytest

from configs import shape_bias as shape_bias_config
from experiments import common
from experiments import shape_bias


def test_smoke_run_twice_gives_the_same_counts(tmp_path):
  config = shape_bias_config.get_config("smoke")
  first = common.execute(shape_bias.run, config, tmp_path / "a")
  second = common.execute(shape_bias.run, config, tmp_path / "b")
  on_disk = json.loads((tmp_path / "a" / "summary.json").read_text())
  assert on_disk["images"] == 8 and on_disk["images_evaluated"] == 8
  assert on_disk["shape_decisions"] + on_disk["texture_decisions"] <= 8
  assert set(on_disk["per_category"]) == {"airplane", "bear", "bicycle", "bird"}
  for key in ("shape_bias", "shape_decisions", "texture_decisions"):
    assert first[key] == second[key]
  a = np.load(tmp_path / "a" / "shape_bias_mobilenet_v1.npz")
  b = np.load(tmp_path / "b" / "shape_bias_mobilenet_v1.npz")
  np.testing.assert_array_equal(a["probabilities"], b["probabilities"])
  assert (tmp_path / "a" / "shape_bias.png").stat().st_size > 10_000


def test_a_folder_with_unknown_classes_is_refused(tmp_path):
  (tmp_path / "stimuli" / "dinosaur").mkdir(parents=True)
  config = shape_bias_config.get_config("smoke")
  config.generate_stimuli = 0
  config.stimuli = str(tmp_path / "stimuli")
  config.indices = str(tmp_path / "none.json")
  with pytest.raises(ValueError, match="Unknown class folders"):
    shape_bias.run(config, tmp_path / "out")
