"""Experiment runs: ``run(config, workdir) -> metrics`` library functions.

Each ``experiments/<name>.py`` is a thin absl entry point around the matching
module here, so tests can mutate a config and call the same function.
"""
