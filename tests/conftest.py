"""Shared test fixtures: asset locations and skips with a clear reason."""

import os
import pathlib

import pytest

DATA_DIR = os.environ.get("JAXVIZ_DATA_DIR")


def shared_asset(relpath: str) -> pathlib.Path:
  """Path of a real asset under $JAXVIZ_DATA_DIR, or skip the test saying why."""
  if not DATA_DIR:
    pytest.skip(f"needs the real asset {relpath}: set JAXVIZ_DATA_DIR to the shared data "
                "folder (CI sets it)")
  path = pathlib.Path(DATA_DIR) / relpath
  if not path.exists():
    pytest.skip(f"needs the real asset {path} (missing)")
  return path
