"""Dataset-level map over a device mesh: equal to the single-device result."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz import attribution
from jaxviz import sharding

_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from jaxviz import sharding
    from jaxviz.attribution import gradients
    assert len(jax.devices()) == 8, jax.devices()
    w = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    f = lambda x: jnp.tanh(x.reshape(x.shape[0], -1)) @ w
    x = np.random.default_rng(1).normal(size=(21, 2, 2, 3)).astype(np.float32)
    t = (np.arange(21) % 5).astype(np.int32)
    fn = jax.jit(lambda x, t: gradients.input_gradients(f, x, t))
    out = sharding.map_batches(fn, [x, t], batch_size=6)
    np.save({path!r}, out)
""")


def test_map_batches_matches_direct_call_and_pads():
  calls = []

  @jax.jit
  def fn(x, y):
    calls.append(x.shape)  # counts traces
    return {"sum": x.sum(axis=1) + y, "sq": x ** 2}

  x = np.arange(22 * 3, dtype=np.float32).reshape(22, 3)
  y = np.arange(22, dtype=np.float32)
  out = sharding.map_batches(fn, [x, y], batch_size=8)
  np.testing.assert_allclose(out["sum"], x.sum(1) + y)
  np.testing.assert_allclose(out["sq"], x ** 2)
  assert len(calls) == 1  # one compile for all batches, the last one padded


def test_bad_arguments():
  with pytest.raises(ValueError, match="same leading size"):
    sharding.map_batches(jnp.sin, [np.zeros(3), np.zeros(4)], batch_size=2)
  with pytest.raises(ValueError, match="positive int"):
    sharding.map_batches(jnp.sin, [np.zeros(3)], batch_size=0)


def test_eight_cpu_devices_match_one_device(tmp_path):
  multi = tmp_path / "multi.npy"
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  subprocess.run([sys.executable, "-c", _SCRIPT.format(path=str(multi))], check=True, env=env,
                 cwd=root, timeout=300)
  w = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
  f = lambda x: jnp.tanh(x.reshape(x.shape[0], -1)) @ w
  x = np.random.default_rng(1).normal(size=(21, 2, 2, 3)).astype(np.float32)
  t = (np.arange(21) % 5).astype(np.int32)
  single = np.asarray(attribution.input_gradients(f, x, t))
  np.testing.assert_allclose(np.load(multi), single, rtol=1e-5, atol=1e-6)
