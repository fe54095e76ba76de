"""Tests of jaxviz.malloc (each tuning runs in a fresh subprocess: it is process-wide)."""

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from experiments import malloc

glibc_only = pytest.mark.skipif(malloc._glibc() is None or malloc.preloaded_allocator() is not None,
                                reason="needs glibc's malloc on Linux (no other one preloaded)")

# Allocates, touches and frees a 64 MiB block 8 times from a worker thread (as
# XLA:CPU does) and prints the minor page faults of the last 7 rounds. Huge
# pages are disabled so that a fault is one 4 KiB page whatever the THP mode.
_FAULTS_SCRIPT = textwrap.dedent("""
    import ctypes, resource, sys, threading
    from experiments import malloc
    libc = ctypes.CDLL(None)
    assert libc.prctl(41, 1, 0, 0, 0) == 0  # PR_SET_THP_DISABLE
    if sys.argv[1] == "tuned":
      assert malloc.tune_glibc_malloc()
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 << 20
    faults = []
    def rounds():
      for i in range(8):
        if i == 1:
          faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
      faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
    worker = threading.Thread(target=rounds)
    worker.start(); worker.join()
    print(faults[1] - faults[0], malloc.malloc_description())
""")


def _run(*args, env=None):
  return subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True,
                        check=True, env=env)


def _faults(mode):
  out = _run(_FAULTS_SCRIPT, mode).stdout.split(maxsplit=1)
  return int(out[0]), out[1].strip()


@glibc_only
def test_tuned_malloc_reuses_large_blocks_instead_of_faulting_fresh_pages():
  pages = (64 << 20) // 4096
  default_faults, default_name = _faults("default")
  tuned_faults, tuned_name = _faults("tuned")
  # Default glibc: every round maps a fresh block (7 rounds x 16k pages).
  assert default_faults > 5 * pages, default_faults
  # Tuned: the freed block is reused, nothing new is faulted in.
  assert tuned_faults < pages // 10, tuned_faults
  assert default_name == "glibc (default settings)"
  assert tuned_name.startswith("glibc, tuned: arena_max=1, mmap_max=0")


@glibc_only
def test_warns_when_jax_already_runs():
  script = ("import jax.numpy as jnp; jnp.ones(2).block_until_ready(); "
            "from experiments import malloc; print(malloc.tune_glibc_malloc())")
  result = _run(script)
  assert result.stdout.strip() == "True"
  assert "already started its CPU backend" in result.stderr


def test_a_preloaded_allocator_is_left_alone(monkeypatch):
  calls = []
  fake_libc = type("FakeLibc", (), {"mallopt": lambda self, *args: calls.append(args) or 1})
  monkeypatch.setattr(malloc, "_glibc", fake_libc)
  monkeypatch.setenv("LD_PRELOAD", "/opt/lib/libtcmalloc_minimal.so.4")
  assert malloc.preloaded_allocator() == "/opt/lib/libtcmalloc_minimal.so.4"
  assert not malloc.tune_glibc_malloc()
  assert not calls
  assert malloc.malloc_description() == "libtcmalloc_minimal.so.4 (LD_PRELOAD)"


def test_no_preloaded_allocator(monkeypatch):
  monkeypatch.setenv("LD_PRELOAD", "/usr/lib/libfoo.so")
  assert malloc.preloaded_allocator() is None
  monkeypatch.delenv("LD_PRELOAD")
  assert malloc.preloaded_allocator() is None


def _train_digits(workdir, *flags):
  root = pathlib.Path(__file__).resolve().parents[1]
  result = subprocess.run(
      [sys.executable, "-m", "experiments.train", "--config=configs/train.py:smoke",
       "--config.epochs=1", f"--workdir={workdir}", *flags],
      capture_output=True, text=True, cwd=root, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stderr, json.loads((workdir / "summary.json").read_text())


@glibc_only
def test_experiment_scripts_tune_malloc_before_jax_starts(tmp_path):
  log, summary = _train_digits(tmp_path / "tuned")
  assert "Malloc: glibc, tuned: arena_max=1" in log
  assert "already started its CPU backend" not in log
  assert summary["malloc"].startswith("glibc, tuned: arena_max=1")
  log, summary = _train_digits(tmp_path / "default", "--notune_malloc")
  assert "Malloc: " not in log
  assert summary["malloc"].startswith("glibc (default settings)")
