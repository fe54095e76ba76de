"""Running a batched function over a whole dataset, sharded over devices of one host or many.

The dataset is cut into fixed-size batches (the last one padded, so one
compiled program serves every batch); each batch is placed with a
``NamedSharding`` over a 1-D ``Mesh`` of all devices along the batch axis, so
XLA splits the work data-parallel. The same code runs on one CPU, several
GPUs, a TPU host, or many hosts under ``jax.distributed``:

- Every process runs the same script and calls :func:`map_batches` with the
  same arguments (the dataset may be a lazy view: anything with ``len`` and
  slicing, e.g. files decoded on access).
- The mesh spans every process's devices; each process reads only the rows of
  each batch that land on its own devices (its shard) and builds its part of
  the global batch with ``jax.make_array_from_callback``.
- The outputs are gathered (``multihost_utils.process_allgather``), so every
  process, process 0 included, returns the complete result.

Start the runtime with :func:`initialize_distributed` (or
``jax.distributed.initialize``) before any other JAX call. On CPU it is
tested with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (one
process) and with 2 processes on 127.0.0.1 (gloo collectives).
"""

from __future__ import annotations

import socket
import time
from typing import Any, Callable, Sequence

import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from jaxviz import progress
from jaxviz import validation

__all__ = ("BATCH_AXIS", "batch_mesh", "initialize_distributed", "local_rows", "map_batches",
           "pad_batch", "put_batch", "put_replicated", "round_up_batch")

BATCH_AXIS = "batch"


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None, process_id: int | None = None, *,
                           timeout_seconds: int = 300) -> None:
  """Starts ``jax.distributed`` (before any other JAX call), with CPU collectives.

  On SLURM, Open MPI and Cloud TPU pass no arguments: ``jax.distributed``
  detects the cluster. Elsewhere pass all three; process 0 hosts the
  coordinator at ``coordinator_address``, and every other process first waits
  up to ``timeout_seconds`` until that address accepts connections, so a wrong
  address is a clear error instead of JAX aborting the process. CPU
  collectives use gloo (GPUs use NCCL, TPUs their interconnect).

  Args:
    coordinator_address: ``"host:port"`` of process 0 (e.g. ``"10.0.0.1:1234"``).
    num_processes: how many processes take part.
    process_id: this process's index in ``[0, num_processes)``.
    timeout_seconds: how long to wait for the coordinator and the other processes.

  Raises:
    ValueError: some but not all of the three arguments given, or bad values.
    ConnectionError: the coordinator cannot be reached within the timeout.
  """
  given = [a is not None for a in (coordinator_address, num_processes, process_id)]
  if any(given) and not all(given):
    raise ValueError("Pass coordinator_address, num_processes and process_id together (or none "
                     "of them, to let jax.distributed detect SLURM, Open MPI or Cloud TPU).")
  timeout_seconds = validation.check_positive_int(timeout_seconds, "timeout_seconds")
  if all(given):
    num_processes = validation.check_positive_int(num_processes, "num_processes")
    if isinstance(process_id, bool) or not isinstance(process_id, (int, np.integer)) or not (
        0 <= process_id < num_processes):
      raise ValueError(f"process_id must be an int in [0, {num_processes}), got {process_id!r}.")
    host, port = _split_address(coordinator_address)
    if process_id != 0:
      _wait_for_coordinator(host, port, coordinator_address, timeout_seconds)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address, num_processes, process_id,
                             initialization_timeout=timeout_seconds)


def _split_address(address: str) -> tuple[str, int]:
  host, _, port = str(address).rpartition(":")
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise ValueError(f"coordinator_address must be 'host:port', got {address!r}.")
  return host.strip("[]"), int(port)


def _wait_for_coordinator(host: str, port: int, address: str, timeout_seconds: float) -> None:
  deadline = time.monotonic() + timeout_seconds
  while True:
    try:
      with socket.create_connection((host, port), timeout=min(1.0, timeout_seconds)):
        return
    except OSError as e:
      if time.monotonic() >= deadline:
        raise ConnectionError(
            f"Cannot reach the jax.distributed coordinator at {address} within "
            f"{timeout_seconds} s ({e}). Process 0 hosts it: start it with the same address, "
            "and check the host name, the port and the firewall.") from e
    time.sleep(0.2)


def batch_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh named ``"batch"`` over ``devices``.

  Default: every device of every process, grouped by process, so that each
  process's devices hold consecutive rows of a batch (one process: the local
  devices).
  """
  devices = list(devices or sorted(jax.devices(), key=lambda d: (d.process_index, d.id)))
  return Mesh(np.asarray(devices), (BATCH_AXIS,))


def round_up_batch(batch_size: int, mesh: Mesh) -> int:
  """Smallest multiple of the device count that is >= ``batch_size``."""
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  n = mesh.devices.size
  return -(-batch_size // n) * n


def _host_value(x: Any) -> Any:
  """``x``, as numpy when it is a single-process array in a multi-process run.

  An array committed to one local device cannot be moved to devices of other
  processes; from numpy, every process places its own shards.
  """
  if jax.process_count() > 1 and isinstance(x, jax.Array) and x.is_fully_addressable:
    return np.asarray(x)
  return x


def put_batch(x: np.ndarray, mesh: Mesh) -> jax.Array:
  """Places a batch on the mesh, split along its first (batch) axis.

  With several processes every process passes the whole batch.
  """
  return jax.device_put(_host_value(x), NamedSharding(mesh, P(BATCH_AXIS)))


def put_replicated(tree: Any, mesh: Mesh) -> Any:
  """Places a pytree (e.g. the variables) on every device of the mesh."""
  return jax.device_put(jax.tree.map(_host_value, tree), NamedSharding(mesh, P()))


def pad_batch(x: np.ndarray, batch_size: int) -> np.ndarray:
  """Pads ``x`` [n, ...] to [batch_size, ...] with copies of its last row.

  Copies of a real example keep the padding valid model input (no NaN/Inf);
  callers keep only the first ``n`` rows of the outputs.
  """
  n = len(x)
  return x if n >= batch_size else np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])


def _rows(index: slice, size: int) -> range:
  return range(size)[index]


def local_rows(mesh: Mesh, batch_size: int) -> tuple[int, int]:
  """``(lo, hi)``: the rows of a batch that live on this process's devices.

  With the default :func:`batch_mesh` they are consecutive: process ``p`` of
  ``P`` holds rows ``[p * batch_size / P, (p + 1) * batch_size / P)``.

  Raises:
    ValueError: the mesh puts this process's rows in separate pieces.
  """
  indices = NamedSharding(mesh, P(BATCH_AXIS)).addressable_devices_indices_map((batch_size,))
  pieces = sorted({(r.start, r.stop) for r in (_rows(i[0], batch_size) for i in indices.values())})
  lo, hi = pieces[0][0], pieces[-1][1]
  if sum(stop - start for start, stop in pieces) != hi - lo:
    raise ValueError(f"The mesh gives process {jax.process_index()} the non-consecutive batch "
                     f"rows {pieces}; order its devices by process (see batch_mesh).")
  return lo, hi


def _read_shard(array, start: int, lo: int, hi: int, n: int) -> np.ndarray:
  """Rows ``start + [lo, hi)`` of the dataset; rows past ``n`` are copies of row ``n - 1``."""
  first = min(start + lo, n - 1)
  chunk = np.asarray(array[first:min(start + hi, n)])
  return pad_batch(chunk, hi - lo)


def _place_shard(shard: np.ndarray, lo: int, batch_size: int, sharding: NamedSharding):
  def rows_of(index):
    rows = _rows(index[0], batch_size)
    return shard[rows.start - lo:rows.stop - lo]

  return jax.make_array_from_callback((batch_size,) + shard.shape[1:], sharding, rows_of)


def map_batches(fn: Callable[..., Any], arrays: Sequence[Any], *, batch_size: int,
                mesh: Mesh | None = None, log_every_seconds: float = 10.0) -> Any:
  """Applies ``fn(*batch)`` to the whole dataset and concatenates the outputs.

  Args:
    fn: a jitted (or jittable) function of per-example-batched arrays
      ``[b, ...]`` returning a pytree of ``[b, ...]`` arrays. It is called
      with the same shapes every time, so it compiles once.
    arrays: the dataset: arrays (or lazy views with ``len`` and slicing) with
      the same leading size N. With several processes every process passes the
      same dataset and reads only its own rows of each batch.
    batch_size: examples per call over all devices, rounded up to a multiple
      of the device count.
    mesh: the device mesh (default :func:`batch_mesh`: all devices of all
      processes).
    log_every_seconds: progress logging interval (process 0 logs).

  Returns:
    The pytree of outputs with leading size N (padding removed), as numpy,
    complete on every process.
  """
  if not arrays:
    raise ValueError("map_batches needs at least one array.")
  n = len(arrays[0])
  if any(len(a) != n for a in arrays):
    raise ValueError(f"All arrays need the same leading size, got {[len(a) for a in arrays]}.")
  if n == 0:
    raise ValueError("map_batches got an empty dataset.")
  mesh = mesh or batch_mesh()
  batch_size = round_up_batch(min(validation.check_positive_int(batch_size, "batch_size"), n),
                              mesh)
  batch_sharding = NamedSharding(mesh, P(BATCH_AXIS))
  lo, hi = local_rows(mesh, batch_size)
  # A mesh of this process's devices only (one process, or a local mesh in a
  # multi-process run) computes the whole result here; otherwise gather it.
  local = batch_sharding.is_fully_addressable
  reporter = (progress.Progress(n, "examples", name="map_batches",
                                every_seconds=log_every_seconds)
              if jax.process_index() == 0 else None)
  outputs = []
  for start in range(0, n, batch_size):
    valid = min(batch_size, n - start)
    placed = [_place_shard(_read_shard(a, start, lo, hi, n), lo, batch_size, batch_sharding)
              for a in arrays]
    out = fn(*placed)
    out = (jax.tree.map(np.asarray, out) if local
           else multihost_utils.process_allgather(out, tiled=True))
    outputs.append(jax.tree.map(lambda o, v=valid: o[:v], out))
    if reporter:
      reporter.update(start + valid)
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outputs)
