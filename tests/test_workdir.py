"""Atomic workdir writes and the summary.json contract."""

import json

import numpy as np
import pytest

from experiments import common
from jaxviz import workdir as wd


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
  target = tmp_path / "out.npz"
  with pytest.raises(RuntimeError):
    with wd.atomic_path(target) as tmp:
      tmp.write_bytes(b"partial")
      raise RuntimeError("crash mid-write")
  assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_old_file(tmp_path):
  target = tmp_path / "a.json"
  wd.write_json(target, {"x": 1})
  wd.write_json(target, {"x": np.float32(2.5), "arr": np.arange(3)})
  assert json.loads(target.read_text()) == {"x": 2.5, "arr": [0, 1, 2]}
  assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_npz_and_figure_round_trip(tmp_path):
  wd.write_npz(tmp_path / "a.npz", maps=np.ones((2, 3)))
  np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["maps"], np.ones((2, 3)))
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots()
  ax.plot([0, 1])
  wd.write_figure(tmp_path / "f.png", fig)
  assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_execute_writes_summary_and_a_failing_run_writes_none(tmp_path):
  import ml_collections  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict({"seed": 3})
  summary = common.execute(lambda c, w: {"metric": 0.5}, config, tmp_path / "ok")
  on_disk = json.loads((tmp_path / "ok" / "summary.json").read_text())
  assert on_disk["metric"] == summary["metric"] == 0.5
  assert on_disk["config"] == {"seed": 3}
  assert {"versions", "wall_seconds", "backend", "devices"} <= set(on_disk)

  def failing(config, workdir):
    wd.write_json(workdir / "partial.json", {})
    raise RuntimeError("boom")

  with pytest.raises(RuntimeError):
    common.execute(failing, config, tmp_path / "bad")
  assert not (tmp_path / "bad" / "summary.json").exists()
  assert not list((tmp_path / "bad").glob("*.tmp"))
