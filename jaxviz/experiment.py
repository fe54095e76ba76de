"""The experiment contract: what every run writes into its workdir.

A run is a library function ``run(config, workdir) -> metrics`` (see
``jaxviz.runs``). :func:`execute` calls it and writes ``summary.json`` with
the run's named metrics at the top level, plus the resolved config, package
versions, devices, the allocator and wall time. Figures (PNG) and arrays (npz) are written by
the run itself through :mod:`jaxviz.workdir` (atomic).
"""

from __future__ import annotations

import importlib.metadata
import logging
import pathlib
import platform
import time
from typing import Any, Callable, Mapping

import jax

from jaxviz import malloc
from jaxviz import workdir as wd

SUMMARY = "summary.json"
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "scikit-learn", "matplotlib",
             "tensorflow-datasets")


def versions() -> dict[str, str]:
  out = {"python": platform.python_version()}
  for name in _PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = "not installed"
  return out


def config_to_dict(config) -> dict[str, Any]:
  return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def execute(run: Callable[[Any, pathlib.Path], Mapping[str, Any]], config,
            workdir: str | pathlib.Path) -> dict[str, Any]:
  """Runs ``run(config, workdir)`` and writes ``summary.json``.

  Args:
    run: the experiment's library function; returns its metrics.
    config: an ``ml_collections.ConfigDict`` (or mapping).
    workdir: output directory (created).

  Returns:
    The summary written to ``workdir/summary.json``.
  """
  workdir = pathlib.Path(workdir)
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
  logging.info("Wrote %s", workdir / SUMMARY)
  return summary
