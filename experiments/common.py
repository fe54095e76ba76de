"""The experiment contract and the absl entry point every experiment shares.

An experiment module ``experiments/<name>.py`` holds ``run(config, workdir) ->
metrics`` (the tested function, like a flax example's ``train.py``) and ends
with ``if __name__ == "__main__": common.main(run)``:

    python -m experiments.<name> --config=configs/<name>.py --workdir=DIR [--config.x=...]

:func:`execute` calls ``run`` and writes ``summary.json`` with the run's named
metrics at the top level plus the resolved config, package versions, backend,
devices, the allocator and the wall time. Figures (PNG) and arrays (npz) are
written by the run itself through :mod:`jaxviz.workdir` (atomic). Process-level
tuning (the allocator) happens here, in the entry point, never in the library.
"""

from __future__ import annotations

import importlib.metadata
import logging
import pathlib
import platform
import time
from typing import Any, Callable, Mapping

from absl import app
from absl import flags
from absl import logging as absl_logging
import jax
from ml_collections import config_flags

from experiments import malloc
from jaxviz import workdir as wd

SUMMARY = "summary.json"
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn", "matplotlib",
             "tensorflow-datasets")
# Summary fields written by execute (not metrics of the run).
CONTRACT_FIELDS = ("config", "versions", "backend", "devices", "malloc", "wall_seconds")

Run = Callable[[Any, pathlib.Path], Mapping[str, Any]]


def check_subset(values, valid, field: str) -> list:
  """``list(values)``; ValueError unless it is a non-empty subset of ``valid`` (named)."""
  values = list(values)
  if not values or any(v not in valid for v in values):
    raise ValueError(f"config.{field} must be a non-empty subset of {tuple(valid)}, got "
                     f"{values}.")
  return values


def check_choice(value, valid, field: str):
  """``value``; ValueError unless it is one of ``valid`` (named)."""
  if value not in valid:
    raise ValueError(f"config.{field} must be one of {tuple(valid)}, got {value!r}.")
  return value


def check_percentile(value, field: str = "percentile") -> float:
  """``value``; ValueError unless it is a percentile in (0, 100]."""
  if not 0 < value <= 100:
    raise ValueError(f"config.{field} must be in (0, 100], got {value}.")
  return float(value)


def cpu_model() -> str:
  """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.lower().startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def versions() -> dict[str, str]:
  """Python and package versions, for ``summary.json``."""
  out = {"python": platform.python_version()}
  for name in _PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = "not installed"
  return out


def config_to_dict(config) -> dict[str, Any]:
  return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def execute(run: Run, config, workdir: str | pathlib.Path) -> dict[str, Any]:
  """Runs ``run(config, workdir)`` and writes ``summary.json``.

  Args:
    run: the experiment's ``run`` function; returns its metrics.
    config: an ``ml_collections.ConfigDict`` (or mapping).
    workdir: output directory (created).

  Returns:
    The summary written to ``workdir/summary.json``.
  """
  workdir = pathlib.Path(workdir).expanduser()
  workdir.mkdir(parents=True, exist_ok=True)
  start = time.time()
  metrics = dict(run(config, workdir))
  summary = dict(metrics)
  summary.update({
      "config": config_to_dict(config),
      "versions": versions(),
      "backend": jax.default_backend(),
      "devices": [str(d) for d in jax.devices()],
      "malloc": malloc.malloc_description(),
      "wall_seconds": time.time() - start,
  })
  wd.write_json(workdir / SUMMARY, summary)
  logging.getLogger(__name__).info("Wrote %s", workdir / SUMMARY)
  return summary


def main(run: Run, exit_status: Callable[[Mapping[str, Any]], int] | None = None) -> None:
  """Runs ``run`` under absl with the experiment contract (``--config``, ``--workdir``).

  Args:
    run: the experiment's ``run`` function.
    exit_status: optional ``exit_status(summary) -> int``, the process's exit
      status after the summary is written (e.g. 1 when a tour section failed).
  """
  # Flags are defined when an entry point runs, not when a test imports the module.
  workdir = flags.DEFINE_string("workdir", None, "Directory for figures, arrays and summary.json.")
  config = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                           lock_config=True)
  tune_malloc = flags.DEFINE_bool(
      "tune_malloc", True, "Let glibc's malloc keep and reuse freed memory "
      "(experiments/malloc.py): fewer page faults on CPU, but the process keeps its peak heap "
      "until it exits.")
  flags.mark_flags_as_required(["config", "workdir"])

  def _main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    absl_logging.set_verbosity(absl_logging.INFO)
    if tune_malloc.value:
      malloc.tune_glibc_malloc()  # Before JAX starts its worker threads.
    summary = execute(run, config.value, workdir.value)
    metrics = {k: v for k, v in summary.items()
               if k not in CONTRACT_FIELDS and not isinstance(v, (dict, list))}
    absl_logging.info("Summary: %s", metrics)
    return exit_status(summary) if exit_status else 0

  app.run(_main)
