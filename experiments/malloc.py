"""Keeping glibc's malloc from handing XLA:CPU fresh pages on every call.

On Linux, XLA:CPU allocates each executable's temporary buffer (about 300 MB
for a MobileNetV2 forward pass at batch 32) with ``posix_memalign`` from its
worker threads. glibc serves an allocation that large from a fresh ``mmap``
and returns it with ``munmap`` when it is freed, so every call page-faults
the whole buffer in again: on the 2-core benchmark machine a quarter of the
CPU time of a MobileNetV2 forward pass went to the kernel zeroing pages.
PyTorch's CPU tensors come from the same allocator and suffer the same way.

:func:`tune_glibc_malloc` sets three glibc ``mallopt`` parameters for the
whole process so that freed memory is kept and reused: one arena for the
threads that allocate for the first time after the call (``M_ARENA_MAX=1``;
other arenas are capped at 64 MB and fall back to ``mmap`` above that), no
``mmap`` for large blocks (``M_MMAP_MAX=0``), and no returning of the heap's
top to the system below 2 GiB (``M_TRIM_THRESHOLD``). The costs: the process
keeps its peak heap (up to 2 GiB free at the top) until it exits, and those
threads share one arena's lock. Preloading tcmalloc
(``LD_PRELOAD=libtcmalloc_minimal.so.4``) has the same effect without code.

Call it at the start of a script, before the first JAX computation: XLA's
worker threads pick their arena on their first allocation.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

LOG = logging.getLogger(__name__)

# glibc's mallopt parameter numbers (<malloc.h>).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_INT_MAX = 2**31 - 1

# (parameter, value, name) that tune_glibc_malloc sets.
GLIBC_SETTINGS = ((_M_ARENA_MAX, 1, "arena_max"), (_M_MMAP_MAX, 0, "mmap_max"),
                  (_M_TRIM_THRESHOLD, _INT_MAX, "trim_threshold"))
# Environment variables through which glibc's malloc is configured at start-up.
GLIBC_ENV = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_",
             "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_OTHER_ALLOCATORS = ("tcmalloc", "jemalloc", "mimalloc")
_tuned = False


def _address(function) -> int:
  return ctypes.cast(function, ctypes.c_void_p).value


def _glibc() -> ctypes.CDLL | None:
  """glibc on Linux when it is the process's malloc, else None."""
  if not sys.platform.startswith("linux"):
    return None
  try:
    libc = ctypes.CDLL("libc.so.6")
  except OSError:
    return None
  if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
    return None
  # A malloc preloaded or linked in before libc (tcmalloc, jemalloc) wins the
  # symbol lookup; glibc's mallopt would then tune an allocator nobody uses.
  if _address(ctypes.CDLL(None).malloc) != _address(libc.malloc):
    return None
  return libc


def preloaded_allocator() -> str | None:
  """The malloc replacement named in ``LD_PRELOAD`` (e.g. tcmalloc), if any."""
  for path in os.environ.get("LD_PRELOAD", "").replace(":", " ").split():
    if any(name in os.path.basename(path) for name in _OTHER_ALLOCATORS):
      return path
  return None


def _jax_backend_started() -> bool:
  if "jax" not in sys.modules:
    return False
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return bool(xla_bridge.backends_are_initialized())
  except (ImportError, AttributeError):  # A private API: unknown means "no warning".
    return False


def tune_glibc_malloc() -> bool:
  """Makes glibc keep and reuse freed memory (see the module docstring).

  Returns:
    True when the settings were applied (glibc's malloc on Linux, no other
    allocator preloaded); False otherwise (nothing is changed, the reason is
    logged).

  Raises:
    RuntimeError: glibc refused one of the settings.
  """
  global _tuned
  other = preloaded_allocator()
  libc = None if other else _glibc()
  if libc is None:
    LOG.info("tune_glibc_malloc: the process's malloc is not glibc's (%s); nothing changed.",
             other or sys.platform)
    return False
  if _jax_backend_started():
    LOG.warning("tune_glibc_malloc: JAX has already started its CPU backend, whose worker "
                "threads keep their own malloc arenas; call it before the first JAX "
                "computation for the full effect.")
  for param, value, name in GLIBC_SETTINGS:
    if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
      raise RuntimeError(f"glibc mallopt refused {name}={value}.")
  _tuned = True
  LOG.info("Malloc: %s.", malloc_description())
  return True


def malloc_description() -> str:
  """Which allocator this process uses and how it is set, for reports."""
  other = preloaded_allocator()
  if other:
    return f"{os.path.basename(other)} (LD_PRELOAD)"
  if _glibc() is None:
    return "not glibc's malloc"
  if _tuned:
    text = "glibc, tuned: " + ", ".join(f"{name}={value}" for _, value, name in GLIBC_SETTINGS)
  else:
    text = "glibc (default settings)"
  env = [f"{name}={os.environ[name]}" for name in GLIBC_ENV if name in os.environ]
  return text + (f"; environment: {', '.join(env)}" if env else "")
