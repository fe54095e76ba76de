"""experiments.tour: the smoke tour end to end, its report in a real browser, resume and safety."""

import json
import os
import pathlib
import shutil

from PIL import Image
import pytest

from configs import tour as tour_config
from experiments import common
from experiments import tour
from tests import browser


def test_smoke_tour_end_to_end_in_a_real_browser_and_rerun(tmp_path):
  """One test (one xdist worker) for the whole smoke tour: outputs, report, reuse."""
  workdir = tmp_path / "w"
  config = tour_config.get_config("smoke")
  summary = common.execute(tour.run, config, workdir)

  # Every section ran, in the lecture's order, as the experiment's own run in its folder.
  assert list(summary["sections"]) == list(tour_config.SECTIONS) == list(config.sections)
  for name, section in summary["sections"].items():
    assert section["status"] == "ok", (name, section["reason"])
    on_disk = json.loads((workdir / name / "summary.json").read_text())
    expected = config[name].to_dict()
    if "cnn_workdir" in expected:  # the sections share the train section's CNN
      expected.update(cnn_workdir=str(workdir / "train"), cnn_train=config.train.to_dict())
    assert on_disk["config"] == json.loads(json.dumps(expected)), name
  assert summary["total_seconds"] >= sum(s["wall_seconds"] for s in summary["sections"].values())
  assert not (workdir / tour.PARTIAL).exists() and not list(workdir.rglob("*.tmp"))
  assert tour.exit_status(summary) == 0

  # The report, rendered by headless Chromium: every image decoded, sections in order.
  page = workdir / "index.html"
  seen = browser.render(page, tmp_path / "report.png")
  broken = [img["src"] for img in seen["images"] if not img["complete"] or img["width"] == 0]
  assert seen["images"] and not broken, broken
  assert all(not pathlib.PurePath(img["src"]).is_absolute() for img in seen["images"])
  assert [s["id"] for s in seen["sections"]] == list(tour_config.SECTIONS)
  assert [s["status"] for s in seen["sections"]] == ["ok"] * len(tour_config.SECTIONS)
  assert not any("This section failed" in s["text"] for s in seen["sections"])
  texts = {s["id"]: s["text"] for s in seen["sections"]}
  train = json.loads((workdir / "train" / "summary.json").read_text())
  assert f"{train['test_accuracy']:.3g}" in texts["train"]  # captions quote the summaries
  bias = json.loads((workdir / "bias" / "summary.json").read_text())
  assert f"{100 * bias['mark_saliency_fraction_biased']:.0f}%" in texts["bias"]
  assert not seen["overflow"]
  assert not browser.render(page, tmp_path / "phone.png", viewport=(390, 844))["overflow"]
  with Image.open(tmp_path / "report.png") as png:
    assert png.size[0] == 1280 and png.size[1] > 2000  # the whole page, not a blank frame

  # A rerun reuses every complete section and reruns the one whose config changed.
  before = {n: (workdir / n / "summary.json").stat().st_mtime_ns for n in config.sections}
  config.embedding.perplexity = 9.0
  rerun = common.execute(tour.run, config, workdir)
  after = {n: (workdir / n / "summary.json").stat().st_mtime_ns for n in config.sections}
  assert [n for n in config.sections if after[n] != before[n]] == ["embedding"]
  assert json.loads((workdir / "embedding" / "summary.json").read_text())["config"][
      "perplexity"] == 9.0
  assert all(s["status"] == "ok" for s in rerun["sections"].values())


def _small_config(*sections):
  config = tour_config.get_config("smoke")
  config.sections = sections
  return config


def test_a_failing_section_is_reported_and_the_tour_goes_on(tmp_path, monkeypatch):
  from experiments import weights  # pylint: disable=g-import-not-at-top

  def broken(config, workdir):
    (workdir / "half.png").write_bytes(b"")
    raise RuntimeError("the filters went missing")

  monkeypatch.setattr(weights, "run", broken)
  summary = common.execute(tour.run, _small_config("train", "weights", "embedding"), tmp_path)
  sections = summary["sections"]
  assert sections["weights"]["status"] == "failed"
  assert "RuntimeError: the filters went missing" in sections["weights"]["reason"]
  assert sections["embedding"]["status"] == "ok"  # the tour went on
  assert tour.exit_status(summary) == 1
  assert not (tmp_path / "weights").exists()  # nothing half-written is kept
  page = (tmp_path / "index.html").read_text()
  assert 'data-status="failed"' in page and "the filters went missing" in page


def test_an_interrupted_tour_resumes_where_it_stopped(tmp_path, monkeypatch):
  from experiments import embedding  # pylint: disable=g-import-not-at-top
  real = embedding.run

  def killed(config, workdir):
    raise KeyboardInterrupt

  monkeypatch.setattr(embedding, "run", killed)
  config = _small_config("train", "embedding")
  with pytest.raises(KeyboardInterrupt):
    common.execute(tour.run, config, tmp_path)
  assert (tmp_path / "train" / "summary.json").exists()  # finished before the kill
  assert not (tmp_path / "embedding").exists() and not (tmp_path / "index.html").exists()
  trained = (tmp_path / "train" / "summary.json").stat().st_mtime_ns
  monkeypatch.setattr(embedding, "run", real)
  summary = common.execute(tour.run, config, tmp_path)
  assert [s["status"] for s in summary["sections"].values()] == ["ok", "ok"]
  assert (tmp_path / "train" / "summary.json").stat().st_mtime_ns == trained  # reused
  assert (tmp_path / "index.html").exists()


def test_a_missing_asset_skips_the_section_with_its_reason(tmp_path, monkeypatch):
  config = _small_config("train", "saliency")
  config.saliency.models = ("mobilenet_v2",)
  config.saliency.mobilenet_v2.weights = str(tmp_path / "absent.npz")
  summary = common.execute(tour.run, config, tmp_path / "w")
  # The saliency experiment skips a model whose weights are missing and says why.
  assert summary["sections"]["saliency"]["status"] in ("ok", "skipped")
  saliency = json.loads((tmp_path / "w" / "saliency" / "summary.json").read_text())
  assert "absent.npz" in saliency["skipped"]["mobilenet_v2"]
  assert "Skipped: mobilenet_v2" in (tmp_path / "w" / "index.html").read_text()


def test_unwritable_or_foreign_workdirs_are_refused_before_any_work(tmp_path):
  foreign = tmp_path / "other"
  foreign.mkdir()
  (foreign / "results.csv").write_text("a,b\n")
  with pytest.raises(tour.WorkdirError, match=r"holds files of another tool \(results.csv\)"):
    tour.run(_small_config("train"), foreign)
  assert sorted(p.name for p in foreign.iterdir()) == ["results.csv"]
  blocked = tmp_path / "file"
  blocked.write_text("")
  with pytest.raises(tour.WorkdirError, match="not writable|not a folder"):
    tour.run(_small_config("train"), blocked / "w")
  if os.geteuid() != 0:  # root writes anywhere; the mode check is for users
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(tour.WorkdirError, match="not writable"):
      tour.run(_small_config("train"), locked)
  with pytest.raises(ValueError, match="config.sections must be a non-empty subset"):
    tour.run(_small_config("train", "lime"), tmp_path / "new")
  assert not (tmp_path / "new" / "train").exists()
