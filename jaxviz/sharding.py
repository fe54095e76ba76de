"""Running a batched function over a whole dataset, sharded over local devices.

The dataset is cut into fixed-size batches (the last one padded, so one
compiled program serves every batch); each batch is placed with a
``NamedSharding`` over a 1-D ``Mesh`` of all local devices along the batch
axis, so XLA splits the work data-parallel. The same code runs on one CPU,
several GPUs or a TPU host; on CPU it is tested with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

BATCH_AXIS = "batch"
LOG = logging.getLogger(__name__)


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh named ``"batch"`` over ``devices`` (default: all local devices)."""
  devices = list(devices or jax.local_devices())
  return Mesh(np.asarray(devices), (BATCH_AXIS,))


def round_up_batch(batch_size: int, mesh: Mesh) -> int:
  """Smallest multiple of the device count that is >= ``batch_size``."""
  if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  n = mesh.devices.size
  return -(-int(batch_size) // n) * n


def put_batch(x: np.ndarray, mesh: Mesh) -> jax.Array:
  """Places a batch on the mesh, split along its first (batch) axis."""
  return jax.device_put(x, NamedSharding(mesh, P(BATCH_AXIS)))


def put_replicated(tree: Any, mesh: Mesh) -> Any:
  """Places a pytree (e.g. the variables) on every device of the mesh."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def pad_batch(x: np.ndarray, batch_size: int) -> np.ndarray:
  """Pads ``x`` [n, ...] to [batch_size, ...] with copies of its last row.

  Copies of a real example keep the padding valid model input (no NaN/Inf);
  callers keep only the first ``n`` rows of the outputs.
  """
  n = len(x)
  return x if n >= batch_size else np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])


def map_batches(fn: Callable[..., Any], arrays: Sequence[np.ndarray], *, batch_size: int,
                mesh: Mesh | None = None, log_every_seconds: float = 10.0) -> Any:
  """Applies ``fn(*batch)`` to the whole dataset and concatenates the outputs.

  Args:
    fn: a jitted (or jittable) function of per-example-batched arrays
      ``[b, ...]`` returning a pytree of ``[b, ...]`` arrays. It is called
      with the same shapes every time, so it compiles once.
    arrays: the dataset, arrays with the same leading size N.
    batch_size: examples per call, rounded up to a multiple of the devices.
    mesh: the device mesh (default :func:`batch_mesh`).
    log_every_seconds: progress logging interval.

  Returns:
    The pytree of outputs with leading size N (padding removed), as numpy.
  """
  if not arrays:
    raise ValueError("map_batches needs at least one array.")
  n = len(arrays[0])
  if any(len(a) != n for a in arrays):
    raise ValueError(f"All arrays need the same leading size, got {[len(a) for a in arrays]}.")
  if n == 0:
    raise ValueError("map_batches got an empty dataset.")
  mesh = mesh or batch_mesh()
  batch_size = round_up_batch(min(batch_size, n), mesh)
  outputs = []
  start_time = last_log = time.time()
  for start in range(0, n, batch_size):
    chunk = [np.asarray(a[start:start + batch_size]) for a in arrays]
    valid = len(chunk[0])
    placed = [put_batch(pad_batch(c, batch_size), mesh) for c in chunk]
    out = jax.tree.map(lambda o, v=valid: np.asarray(o)[:v], fn(*placed))
    outputs.append(out)
    now = time.time()
    if now - last_log > log_every_seconds:
      done = start + valid
      eta = (now - start_time) / done * (n - done)
      LOG.info("%d/%d examples, ETA %.0fs", done, n, eta)
      last_log = now
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outputs)
