"""Shared test fixtures (helpers live in tests/helpers.py)."""

import jax
from jax.experimental.compilation_cache import compilation_cache
import pytest

_CACHE_OPTIONS = {"jax_compilation_cache_dir": None,
                  "jax_persistent_cache_min_compile_time_secs": 0.0,
                  "jax_persistent_cache_min_entry_size_bytes": -1}


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory):
  """A persistent XLA cache, so a second identical run reuses the first run's executables.

  Experiment runs build fresh model functions, hence fresh jit cache keys; the
  persistent cache (keyed on the compiled program) only saves compile time.
  """
  old = {name: getattr(jax.config, name) for name in _CACHE_OPTIONS}
  options = dict(_CACHE_OPTIONS, jax_compilation_cache_dir=str(tmp_path_factory.mktemp("xla")))
  for name, value in options.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()
  yield
  for name, value in old.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()
