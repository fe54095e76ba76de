"""Atomic writes into an experiment's workdir.

Every file is written to a temporary name in the same directory and moved
into place with ``os.replace``, so a reader (or a crashed run) never sees a
half-written file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import secrets
from typing import Any, Iterator

import numpy as np

__all__ = ("atomic_path", "read_json", "write_bytes", "write_figure", "write_json", "write_npz")

@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Yields a temporary path that replaces ``path`` only if the block succeeds."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  # A fresh name created exclusively, with the usual mode (0666 minus the umask).
  tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
  os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if tmp.exists():
      tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
  with atomic_path(path) as tmp:
    tmp.write_bytes(data)
  return pathlib.Path(path)


def _jsonable(obj: Any):
  if isinstance(obj, dict):
    return {str(k): _jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_jsonable(v) for v in obj]
  if isinstance(obj, (np.generic,)):
    return obj.item()
  if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
    return np.asarray(obj).tolist()
  if isinstance(obj, pathlib.Path):
    return str(obj)
  return obj


def write_json(path: str | os.PathLike, obj: Any) -> pathlib.Path:
  """Writes ``obj`` (numpy values converted) as indented JSON, atomically."""
  text = json.dumps(_jsonable(obj), indent=2, sort_keys=False)
  return write_bytes(path, (text + "\n").encode())


def write_npz(path: str | os.PathLike, **arrays) -> pathlib.Path:
  """Writes named arrays as a compressed ``.npz``, atomically."""
  buf = io.BytesIO()
  np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
  return write_bytes(path, buf.getvalue())


def write_figure(path: str | os.PathLike, fig, dpi: int = 110) -> pathlib.Path:
  """Saves a matplotlib figure as PNG, atomically."""
  buf = io.BytesIO()
  fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
  return write_bytes(path, buf.getvalue())


def read_json(path: str | os.PathLike) -> Any:
  return json.loads(pathlib.Path(path).read_text())
