"""Keeping glibc's malloc from handing XLA:CPU fresh pages on every call.

On Linux, XLA:CPU allocates each executable's temporary buffer (about 300 MB
for a MobileNetV2 forward pass at batch 32) with ``posix_memalign`` from its
worker threads. glibc serves an allocation that large from a fresh ``mmap``
and returns it with ``munmap`` when it is freed, so every call page-faults
the whole buffer in again: on the 2-core benchmark machine a quarter of the
CPU time of a MobileNetV2 forward pass went to the kernel zeroing pages.
PyTorch's CPU tensors come from the same allocator and suffer the same way.

:func:`tune_glibc_malloc` sets three glibc ``mallopt`` parameters for the
whole process so that freed memory is kept and reused: one arena for all
threads (``M_ARENA_MAX=1``; other threads' arenas are capped at 64 MB and
fall back to ``mmap`` above that), no ``mmap`` for large blocks
(``M_MMAP_MAX=0``), and no returning of the heap's top to the system below
2 GiB (``M_TRIM_THRESHOLD``). The cost: the process keeps its peak heap until
it exits, and all threads share one arena's lock. Preloading tcmalloc
(``LD_PRELOAD=libtcmalloc_minimal.so.4``) has the same effect without code.

Call it at the start of a script, before the first JAX computation: XLA's
worker threads pick their arena on their first allocation.
"""

from __future__ import annotations

import ctypes
import os
import sys

from absl import logging

# glibc's mallopt parameter numbers (<malloc.h>).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_INT_MAX = 2**31 - 1

# (parameter, value, name) that tune_glibc_malloc sets.
GLIBC_SETTINGS = ((_M_ARENA_MAX, 1, "arena_max"), (_M_MMAP_MAX, 0, "mmap_max"),
                  (_M_TRIM_THRESHOLD, _INT_MAX, "trim_threshold"))

_OTHER_ALLOCATORS = ("tcmalloc", "jemalloc", "mimalloc")
_tuned = False


def _glibc() -> ctypes.CDLL | None:
  """The process's C library when it is glibc on Linux, else None."""
  if not sys.platform.startswith("linux"):
    return None
  libc = ctypes.CDLL(None)
  if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
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
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  return xla_bridge.backends_are_initialized()


def tune_glibc_malloc() -> bool:
  """Makes glibc keep and reuse freed memory (see the module docstring).

  Returns:
    True when the settings were applied (glibc on Linux, no other allocator
    preloaded); False otherwise (nothing is changed, the reason is logged).

  Raises:
    RuntimeError: glibc refused one of the settings.
  """
  global _tuned
  libc = _glibc()
  if libc is None:
    logging.info("tune_glibc_malloc: not glibc on Linux (%s); nothing changed.", sys.platform)
    return False
  other = preloaded_allocator()
  if other:
    logging.info("tune_glibc_malloc: %s is preloaded and replaces glibc's malloc; "
                 "nothing changed.", other)
    return False
  if _jax_backend_started():
    logging.warning("tune_glibc_malloc: JAX has already started its CPU backend, whose worker "
                    "threads keep their own malloc arenas; call it before the first JAX "
                    "computation for the full effect.")
  for param, value, name in GLIBC_SETTINGS:
    if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:
      raise RuntimeError(f"glibc mallopt refused {name}={value}.")
  _tuned = True
  logging.info("Malloc: %s.", malloc_description())
  return True


def malloc_description() -> str:
  """Which allocator this process uses, for benchmark reports."""
  other = preloaded_allocator()
  if other:
    return f"{os.path.basename(other)} (LD_PRELOAD)"
  if _glibc() is None:
    return "system default"
  if _tuned:
    return "glibc, tuned: " + ", ".join(f"{name}={value}" for _, value, name in GLIBC_SETTINGS)
  return "glibc (default settings)"
