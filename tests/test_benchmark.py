"""Tests of the jaxviz vs Captum/PyTorch benchmark (benchmarks, scripts/benchmark.py)."""

import json
import os
import pathlib
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from benchmarks import timing
import benchmarks as bench
from experiments import malloc
from jaxviz import attribution
from jaxviz import models
from jaxviz.models import mobilenet

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "benchmark.py"
REQUIRED_KEYS = {"method", "batch", "impl", "model", "images_per_second", "compile_seconds"}


def _run_script(tmp_path, *args, env_extra=None):
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
  env.update(env_extra or {})
  return subprocess.run([sys.executable, str(SCRIPT), f"--output_dir={tmp_path}", *args],
                        capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture(scope="module")
def small_cnn():
  return timing.load_bench_model("small_cnn", num_images=4)


def _random_mobilenet_v2():
  """MobileNetV2 width 0.35 on 96x96 with random kernels and non-zero biases."""
  model = mobilenet.MobileNetV2(width=0.35)
  params = models.random_params(model, (1, 96, 96, 3), seed=1)
  x = np.random.default_rng(0).uniform(-1, 1, (2, 96, 96, 3)).astype(np.float32)
  return model, params, x


# --------------------------------------------------------------------------
# Argument checks.


def test_parse_methods_rejects_unknown_listing_valid():
  assert bench.parse_methods("forward, saliency,forward") == ("forward", "saliency")
  with pytest.raises(ValueError, match="valid methods: forward, saliency, guided_backprop"):
    bench.parse_methods(["forward", "lime"])
  with pytest.raises(ValueError, match="No method given"):
    bench.parse_methods("")


def test_parse_batch_sizes_and_models():
  assert bench.parse_batch_sizes("1,8,32") == (1, 8, 32)
  assert bench.parse_batch_sizes([2, "4"]) == (2, 4)
  for bad in ("0", "-1", "1.5", "eight", [True], [2.0], ""):
    with pytest.raises(ValueError, match="batch size"):
      bench.parse_batch_sizes(bad)
  with pytest.raises(ValueError, match="valid models: mobilenet_v2, small_cnn"):
    bench.parse_models("vgg16")


def test_time_interleaved_counts_warmups_and_alternates_repeats():
  calls = []
  fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
  t = timing.time_interleaved(fns, repeats=3, warmups=2, syncs={"a": lambda out: out,
                                                                "b": lambda out: out})
  # Warm-ups per competitor first, then rounds of one call each.
  assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
  assert set(t) == {"a", "b"} and all(len(x.seconds) == 3 for x in t.values())
  assert t["a"].median_seconds == sorted(t["a"].seconds)[1]
  assert timing.Timing(2.0, (0.5, 0.25, 1.0)).compile_seconds == pytest.approx(1.5)
  assert timing.Timing(0.1, (0.5,)).compile_seconds == 0.0
  with pytest.raises(ValueError, match="repeats"):
    timing.time_interleaved(fns, repeats=0)


def test_time_interleaved_fills_short_samples_with_repeated_calls():
  calls = []

  def fast():
    calls.append(1)
    time.sleep(0.002)

  t = timing.time_interleaved({"fast": fast}, repeats=2, warmups=1, syncs={"fast": lambda o: o},
                              min_sample_seconds=0.02)
  # 1 warm-up + 1 calibration call, then 2 samples of ~10 calls each.
  assert 2 + 2 * 5 <= len(calls) <= 2 + 2 * 11
  assert all(0.002 <= s < 0.02 for s in t["fast"].seconds)  # Seconds per call.
  with pytest.raises(ValueError, match="min_sample_seconds"):
    timing.time_interleaved({"fast": fast}, repeats=1, min_sample_seconds=-1.0)


def test_markdown_report_ratio_and_memory():
  recs = [
      {"model": "m", "method": "saliency", "batch": 8, "impl": "jaxviz",
       "images_per_second": 40.0, "compile_seconds": 1.5},
      {"model": "m", "method": "saliency", "batch": 8, "impl": "torch_nchw",
       "images_per_second": 10.0, "compile_seconds": None},
      {"model": "m", "method": "saliency", "batch": 8, "impl": "torch_channels_last",
       "images_per_second": 20.0, "compile_seconds": None},
      {"model": "m", "method": "ig256_peak_memory", "batch": 8, "impl": "jaxviz",
       "images_per_second": None, "compile_seconds": None, "peak_memory_gib": 1.25,
       "peak_before_ig_gib": 0.5, "seconds": 3.0, "steps": 256, "chunk_size": 8,
       "target_gib": 4.0, "within_target": True},
  ]
  md = timing.markdown_report(recs, {"cpu": "TestCPU", "cores": 2}, notes=["noisy"])
  assert "| saliency | 8 | 40 | 10 | 20 | 2.00x | 1.5 | – |" in md
  assert "cpu: TestCPU" in md and "peak RSS 1.25 GiB" in md and "- noisy" in md


# --------------------------------------------------------------------------
# PyTorch twins (need the bench extra).


def test_torch_small_cnn_reproduces_jaxviz(small_cnn):
  pytest.importorskip("torch")
  from benchmarks import torch_models
  f = jax.jit(small_cnn.f)
  for layout in torch_models.LAYOUTS:
    twin = torch_models.from_flax(small_cnn.model, small_cnn.params, layout)
    assert torch_models.max_logit_difference(f, twin, small_cnn.images, layout) < 1e-4
    assert twin.layer_names() == ["conv1", "pool1", "conv2", "pool2", "fc1", "logits"]
  with pytest.raises(RuntimeError, match="does not reproduce"):
    torch_models.check_equivalence(lambda x: f(x) + 0.01, twin, small_cnn.images, layout)


def test_torch_mobilenet_v2_reproduces_jaxviz_and_guided_backprop():
  pytest.importorskip("torch")
  captum_attr = pytest.importorskip("captum.attr")
  import torch
  from benchmarks import torch_models
  model, params, x = _random_mobilenet_v2()
  f = jax.jit(lambda x: model.apply({"params": params}, x))
  for layout in torch_models.LAYOUTS:
    twin = torch_models.from_flax(model, params, layout)
    assert torch_models.check_equivalence(f, twin, x, layout) < 1e-4
  assert twin.layer("Conv_1") is twin.Conv_1
  with pytest.raises(ValueError, match="Valid layer names"):
    twin.layer("conv5")
  # The ReLU6(nn.ReLU) subclass makes Captum apply its guided-backprop rule: it
  # matches jaxviz's rule and differs from the plain gradient.
  targets = np.array([3, 7], np.int32)
  want = attribution.input_gradients(lambda x: model.apply({"params": params}, x), x, targets,
                                     rule="guided_backprop")
  xt, tt = torch_models.to_torch(x, layout), torch.from_numpy(targets.astype(np.int64))
  got = captum_attr.GuidedBackprop(twin).attribute(xt, target=tt).permute(0, 2, 3, 1).numpy()
  plain = captum_attr.Saliency(twin).attribute(xt, target=tt, abs=False)
  scale = np.abs(want).max()
  np.testing.assert_allclose(got, want, atol=1e-3 * scale)
  assert np.abs(plain.permute(0, 2, 3, 1).numpy() - got).max() > 0.1 * scale


def test_torch_methods_match_jaxviz_on_small_cnn(small_cnn):
  """The Captum calls compute what the jaxviz calls do (like is compared with like).

  (Guided backprop is checked on MobileNetV2 above.)
  """
  pytest.importorskip("captum.attr")
  from benchmarks import torch_models
  x = timing.batch_inputs(small_cnn.images, 2)
  targets, top5 = np.array([1, 8], np.int32), np.array([[1, 2, 3, 4, 5], [9, 8, 0, 7, 6]],
                                                        np.int32)
  ours = timing.jaxviz_methods(small_cnn, x, targets, top5)
  twin = torch_models.from_flax(small_cnn.model, small_cnn.params, "channels_last")
  theirs = timing.torch_methods(small_cnn, twin, "channels_last", x, targets, top5)
  want = np.asarray(ours["grad_cam"]())  # [B, H, W], ReLU'd and upsampled.
  got = theirs["grad_cam"]().detach().numpy()[:, 0]
  np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
  want = np.asarray(ours["top5_saliency"]())  # [B, 5, H, W, C]
  for variant in theirs["top5_saliency"].values():
    got = variant().detach().numpy().transpose(0, 1, 3, 4, 2)
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


def test_torch_status_names_the_extra(monkeypatch):
  pytest.importorskip("captum.attr")
  assert timing.torch_status() == (True, True, None)
  monkeypatch.setitem(sys.modules, "captum.attr", None)
  has_torch, has_captum, message = timing.torch_status()
  assert has_torch and not has_captum and "pip install -e .[bench]" in message
  monkeypatch.setitem(sys.modules, "torch", None)
  assert timing.torch_status()[:2] == (False, False)


def test_run_model_without_captum_times_torch_forward_only(small_cnn):
  pytest.importorskip("torch")
  records, info = timing.run_model(small_cnn, ["forward", "saliency"], [1], repeats=1,
                                   warmups=1, impls=("jaxviz", "torch_nchw"),
                                   with_captum=False)
  assert [(r["method"], r["impl"]) for r in records] == [
      ("forward", "jaxviz"), ("forward", "torch_nchw"), ("saliency", "jaxviz")]
  assert set(info["equivalence"]) == {"torch_nchw"}
  with pytest.raises(ValueError, match="Unknown impl"):
    timing.run_model(small_cnn, ["forward"], [1], impls=("jax",))


# --------------------------------------------------------------------------
# The script end to end, and its failure modes.


def test_script_end_to_end(tmp_path):
  pytest.importorskip("captum.attr")
  proc = _run_script(tmp_path, "--models=small_cnn", "--batch_sizes=1,2", "--repeats=1",
                     "--warmups=1", "--methods=forward,saliency", "--suites=attribution")
  assert proc.returncode == 0, proc.stderr[-3000:]
  records = json.loads((tmp_path / "benchmark.json").read_text())
  assert {(r["method"], r["batch"], r["impl"]) for r in records} == {
      (m, b, i) for m in ("forward", "saliency") for b in (1, 2) for i in bench.IMPLS}
  for r in records:
    assert REQUIRED_KEYS <= set(r) and r["model"] == "small_cnn"
    assert r["images_per_second"] > 0
    assert (r["compile_seconds"] is None) == (r["impl"] != "jaxviz")
  md = (tmp_path / "benchmark.md").read_text()
  assert "| forward | 1 |" in md and "| saliency | 2 |" in md
  assert "nn.ReLU subclass" in md and "cores: " in md and "torch: " in md
  assert f"malloc: {malloc.malloc_description()}" in md


def test_script_rejects_unknown_method(tmp_path):
  proc = _run_script(tmp_path, "--methods=forward,occlusion")
  assert proc.returncode != 0
  out = proc.stdout + proc.stderr
  assert "Unknown method(s) ['occlusion']" in out
  assert "valid methods: " + ", ".join(bench.METHODS) in out
  assert not (tmp_path / "benchmark.json").exists()


def test_script_rejects_bad_batch_size_and_suite(tmp_path):
  proc = _run_script(tmp_path, "--batch_sizes=8,0")
  assert proc.returncode != 0
  assert "batch sizes must be positive ints" in proc.stdout + proc.stderr
  proc = _run_script(tmp_path, "--suites=attribution,lime")
  assert proc.returncode != 0
  assert "Unknown or no suite(s) ['lime']; valid suites: attribution, synthesis, pgd, style" in (
      proc.stdout + proc.stderr)


def test_script_without_torch_names_the_extra_and_runs_jaxviz(tmp_path):
  blocked = tmp_path / "blocked"
  blocked.mkdir()
  for name in ("torch", "captum"):
    (blocked / f"{name}.py").write_text(f"raise ImportError('{name} blocked by the test')\n")
  out_dir = tmp_path / "out"
  proc = _run_script(out_dir, "--models=small_cnn", "--batch_sizes=1", "--repeats=1",
                     "--warmups=1", "--methods=forward", "--tune_malloc",
                     "--suites=attribution,synthesis",
                     env_extra={"PYTHONPATH": os.pathsep.join([str(blocked), str(ROOT)])})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "pip install -e .[bench]" in proc.stdout + proc.stderr
  records = json.loads((out_dir / "benchmark.json").read_text())
  # Without torch only jaxviz runs, in every suite asked for.
  assert [(r["impl"], r["method"], r["batch"]) for r in records] == [
      ("jaxviz", "forward", 1), ("jaxviz", "synthesis_fourier", 8),
      ("jaxviz", "synthesis_pixel", 8)]
  md = (out_dir / "benchmark.md").read_text()
  assert "pip install -e .[bench]" in md and "## Class-model synthesis" in md
  assert "synthesis_pixel" not in md.split("## Class-model synthesis")[0]  # its own table only
  if malloc._glibc() is not None and malloc.preloaded_allocator() is None:
    assert "malloc: glibc, tuned: arena_max=1" in md


def test_ig_peak_memory_in_subprocess():
  rec = timing.ig_peak_memory("small_cnn", batch=2, steps=4, chunk_size=2, tune_malloc=True)
  assert rec["method"] == "ig4_peak_memory" and rec["impl"] == "jaxviz"
  assert 0.05 < rec["peak_before_ig_gib"] <= rec["peak_memory_gib"] < 64
  assert rec["within_target"] == (rec["peak_memory_gib"] < 4.0)
  if malloc._glibc() is not None and malloc.preloaded_allocator() is None:
    assert rec["malloc"].startswith("glibc, tuned: arena_max=1")
  with pytest.raises(ValueError, match="steps must be a positive int"):
    timing.ig_peak_memory("small_cnn", steps=0)
