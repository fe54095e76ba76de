"""Shared absl entry point: flags -> config -> library run -> workdir."""

from __future__ import annotations

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from jaxviz import experiment
from jaxviz import malloc

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for figures, arrays and summary.json.")
_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                          lock_config=True)
_TUNE_MALLOC = flags.DEFINE_bool(
    "tune_malloc", True, "Let glibc's malloc keep and reuse freed memory (jaxviz.malloc): "
    "fewer page faults on CPU, but the process keeps its peak heap until it exits.")
flags.mark_flags_as_required(["config", "workdir"])


def main(run):
  """Runs ``run(config, workdir)`` under absl with the experiment contract."""

  def _main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.INFO)
    if _TUNE_MALLOC.value:
      malloc.tune_glibc_malloc()  # Before JAX starts its worker threads.
    summary = experiment.execute(run, _CONFIG.value, _WORKDIR.value)
    metrics = {k: v for k, v in summary.items()
               if k not in ("config", "versions", "devices", "malloc")
               and not isinstance(v, (dict, list))}
    logging.info("Summary: %s", metrics)

  app.run(_main)
