"""Shared test fixtures: asset locations and skips with a clear reason."""

import os
import pathlib

import jax
import jax.extend  # count_primitive walks sub-jaxprs with jax.extend.core
import jax.numpy as jnp
import numpy as np
from jax.experimental.compilation_cache import compilation_cache
import pytest

from jaxviz import checkpoint
from jaxviz import experiment
from jaxviz.runs import train

_CACHE_OPTIONS = {"jax_compilation_cache_dir": None,
                  "jax_persistent_cache_min_compile_time_secs": 0.0,
                  "jax_persistent_cache_min_entry_size_bytes": -1}

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


def random_variables(model, x, seed):
  """He-normal kernels and small random biases from numpy (no init compile)."""
  rng = np.random.default_rng(seed)

  def draw(path, spec):
    if path[-1].key == "bias":
      return jnp.asarray(rng.normal(size=spec.shape) * 0.1, spec.dtype)
    fan_in = int(np.prod(spec.shape[:-1]))
    return jnp.asarray(rng.normal(size=spec.shape) * np.sqrt(2 / fan_in), spec.dtype)

  return jax.tree_util.tree_map_with_path(draw, jax.eval_shape(model.init, jax.random.key(0), x))


def count_primitive(closed, name):
  total = 0
  for eqn in closed.jaxpr.eqns if hasattr(closed, "jaxpr") else closed.eqns:
    total += eqn.primitive.name == name
    for sub in jax.extend.core.jaxprs_in_params(eqn.params):
      total += count_primitive(sub, name)
  return total


def save_untrained_cnn(train_config, directory):
  """A small CNN with random weights saved as if trained (skips seconds of training).

  The smoke tests check the experiment's pipeline, not the model's quality
  (training on demand is tested with experiments.train). The weights are drawn
  with numpy: compiling Flax's initialisers costs more than the whole run.
  """
  dataset = train.load_in_memory(train_config.dataset, "test", train_config.data_dir)
  spec = train.model_spec(train_config, dataset)
  model = checkpoint.build_small_model(spec)
  x = jax.ShapeDtypeStruct((1,) + dataset.images.shape[1:], np.float32)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)["params"]
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: (rng.standard_normal(s.shape) * (
      np.prod(s.shape[:-1]) ** -0.5 if len(s.shape) > 1 else 0.1)).astype(np.float32), shapes)
  checkpoint.save(directory, {"params": params, "step": 0}, spec, final=True)


def smoke_runs_on_one_cnn(run, config, root: pathlib.Path) -> list[pathlib.Path]:
  """Runs an experiment's smoke ``config`` twice (workdirs ``root/a``, ``root/b``).

  Both runs share one untrained CNN saved into ``root/cnn`` (config.cnn_workdir),
  so a test can check the outputs and that the same config gives the same arrays.
  """
  config.cnn_workdir = str(root / "cnn")
  save_untrained_cnn(config.cnn_train, root / "cnn")
  workdirs = [root / "a", root / "b"]
  for workdir in workdirs:
    experiment.execute(run, config, workdir)
  return workdirs
