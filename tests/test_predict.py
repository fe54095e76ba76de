"""experiments.predict: top-5 predictions of MobileNetV2 on real photos."""

import json

import numpy as np
import pytest

from configs import predict as predict_config
from experiments import common
from experiments import predict
from jaxviz import validation
from jaxviz.models import registry
from tests import helpers


def test_predict_on_foolbox_imagenet_samples(tmp_path):
  folder = helpers.shared_asset("foolbox_samples")
  subset = tmp_path / "images"
  subset.mkdir()
  for f in sorted(folder.glob("imagenet_*")):
    (subset / f.name).write_bytes(f.read_bytes())
  config = predict_config.get_config()
  config.images = str(subset)
  out = tmp_path / "run"
  common.execute(predict.run, config, out)
  records = json.loads((out / "predictions.json").read_text())
  assert len(records) == 21  # 20 foolbox images + skimage chelsea
  correct = 0
  for r in records:
    assert len(r["top5"]) == 5
    probs = [t["prob"] for t in r["top5"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-5
    assert all(0 <= t["index"] < 1000 for t in r["top5"])
    if r["file"].startswith("imagenet_"):
      label = int(r["file"].rsplit("_", 1)[1].split(".")[0])
      correct += r["top5"][0]["index"] == label
  assert correct >= 18
  chelsea = next(r for r in records if r["file"] == "skimage:chelsea")
  assert "cat" in chelsea["top5"][0]["name"]
  assert (out / "predictions.png").stat().st_size > 10_000
  arrays = np.load(out / "predictions.npz")
  assert arrays["probabilities"].shape == (21, 1001)
  summary = json.loads((out / "summary.json").read_text())
  assert summary["num_images"] == 21 and summary["config"]["model"] == "mobilenet_v2"


def test_wrong_input_for_model_is_a_clear_error():
  helpers.shared_asset("mobilenet_imagenet")
  _, _, meta = registry.load_model("mobilenet_v2")
  with pytest.raises(ValueError, match=r"\(224, 224\)"):
    validation.check_model_input(np.zeros((1, 128, 128, 3), np.float32), meta)
  with pytest.raises(ValueError, match="rank 4"):
    validation.check_model_input(np.zeros((224, 224, 3), np.float32), meta)
  with pytest.raises(ValueError, match="floating point"):
    validation.check_model_input(np.zeros((1, 224, 224, 3), np.uint8), meta)
  with pytest.raises(ValueError, match="3 channels"):
    validation.check_model_input(np.zeros((1, 224, 224, 1), np.float32), meta)
  x = np.zeros((1, 224, 224, 3), np.float32)
  x[0, 3, 3, 0] = np.nan
  with pytest.raises(ValueError, match="NaN"):
    validation.check_model_input(x, meta)
