"""map_batches under jax.distributed: 2 CPU processes on 127.0.0.1 equal one process.

Through map_batches: batched attribution (guided backprop), feature
extraction and top-activating inputs.

Each worker process has 2 CPU devices (4 in the mesh) and gloo collectives;
both run :func:`_worker` with the same arguments, like the same script on two
hosts, and save what they got. The test compares that with the single-process
results computed here.
"""

import os
import pathlib
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz import sharding
from jaxviz.attribution import gradients
from jaxviz.inspect import features
from jaxviz.inspect import top_activations
from jaxviz.models import small_cnn
from jaxviz.models import taps
from tests import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
_N, _BATCH = 21, 6  # 4 devices: batches of 8 rows at 0, 8, 16; the last one padded
_IMAGES = 13
_CHANNELS = [0, 3, 5]


class _LoggedView:
  """A dataset view that records which rows were read."""

  def __init__(self, array):
    self.array, self.rows = array, []

  def __len__(self):
    return len(self.array)

  def __getitem__(self, index: slice):
    self.rows.extend(range(*index.indices(len(self.array))))
    return self.array[index]


def _attribution_problem():
  rng = np.random.default_rng(0)
  w1 = rng.normal(size=(12, 7)).astype(np.float32)
  w2 = rng.normal(size=(7, 5)).astype(np.float32)
  f = lambda x: jax.nn.relu(x.reshape(x.shape[0], -1) @ w1) @ w2
  x = rng.normal(size=(_N, 2, 2, 3)).astype(np.float32)
  return f, x, (np.arange(_N) % 5).astype(np.int32)


def _feature_problem():
  model = small_cnn.SmallCNN(num_classes=3, channels=(4, 6), hidden=5)
  variables = helpers.random_variables(model, (1, 28, 28, 1), bias_std=0.1)
  images = np.random.default_rng(1).integers(0, 256, (_IMAGES, 28, 28, 1), dtype=np.uint8)
  return model, variables, images


def _to_inputs(pixels):
  return np.asarray(pixels, np.float32) / 255.0


def _top_activations(model, variables, images):
  return top_activations.top_activating_inputs(model, variables, images, "conv2", _CHANNELS, k=3,
                                               batch_size=4, preprocess=_to_inputs,
                                               key=jax.random.key(0))


def _worker(process_id: int, port: int, out: str) -> None:
  """One process of the 2-process run (started by the test)."""
  sharding.initialize_distributed(f"127.0.0.1:{port}", 2, process_id, timeout_seconds=60)
  f, x, t = _attribution_problem()
  views = [_LoggedView(x), _LoggedView(t)]
  guided = jax.jit(lambda x, t: gradients.input_gradients(f, x, t, rule="guided_backprop"))
  maps = sharding.map_batches(guided, views, batch_size=_BATCH)
  # A mesh of this process's devices only: each process computes everything itself.
  local_maps = sharding.map_batches(guided, [x, t], batch_size=_BATCH,
                                    mesh=sharding.batch_mesh(jax.local_devices()))
  model, variables, images = _feature_problem()
  feats = features.extract_features(model, variables, images, "conv2", batch_size=4,
                                    preprocess=_to_inputs)
  top = _top_activations(model, variables, images)
  np.savez(out, maps=maps, local_maps=local_maps, features=feats, top_values=top.values, top_images=top.image_indices,
           top_positions=top.positions, top_patches=top.patches, rows=np.asarray(views[0].rows),
           label_rows=np.asarray(views[1].rows), devices=jax.device_count(),
           local_devices=jax.local_device_count(), processes=jax.process_count())


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one_process(tmp_path):
  port = _free_port()
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=2")
  code = ("import sys; from tests.test_distributed import _worker; "
          "_worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])")
  outs = [tmp_path / f"process{p}.npz" for p in range(2)]
  workers = [subprocess.Popen([sys.executable, "-c", code, str(p), str(port), str(outs[p])],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
             for p in range(2)]
  logs = []
  for worker in workers:
    try:
      logs.append(worker.communicate(timeout=180)[0])
    except subprocess.TimeoutExpired:
      for w in workers:
        w.kill()
      raise
  assert all(w.returncode == 0 for w in workers), "\n".join(log[-3000:] for log in logs)
  got = [np.load(out) for out in outs]
  assert [int(g["processes"]) for g in got] == [2, 2]
  assert [int(g["devices"]) for g in got] == [4, 4] and [int(g["local_devices"]) for g in got] == [2, 2]
  # Each process read only its own rows of each batch of 8: 4 per process, the
  # pad rows of the last batch being copies of row 20.
  assert got[0]["rows"].tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19]
  assert got[1]["rows"].tolist() == [4, 5, 6, 7, 12, 13, 14, 15, 20]
  assert got[1]["label_rows"].tolist() == got[1]["rows"].tolist()
  # ... and both get the complete results, equal to the single-process ones.
  f, x, t = _attribution_problem()
  expected_maps = np.asarray(gradients.input_gradients(f, x, t, rule="guided_backprop"))
  model, variables, images = _feature_problem()
  expected_features = np.asarray(
      taps.activations(model, variables, _to_inputs(images), ["conv2"])["conv2"])
  # The top-3 images per channel, by brute force over the single-process features.
  flat = expected_features[..., _CHANNELS].reshape(_IMAGES, -1, len(_CHANNELS))
  maxima, argmax = flat.max(axis=1).T, flat.argmax(axis=1).T  # [C, N]
  top_images = np.argsort(-maxima, axis=1, kind="stable")[:, :3]
  top_positions = np.stack(np.divmod(np.take_along_axis(argmax, top_images, 1),
                                     expected_features.shape[2]), axis=-1)
  for g in got:
    np.testing.assert_allclose(g["maps"], expected_maps, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g["local_maps"], expected_maps, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g["features"], expected_features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g["top_values"], np.take_along_axis(maxima, top_images, 1),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(g["top_images"], top_images)
    np.testing.assert_array_equal(g["top_positions"], top_positions)
  np.testing.assert_array_equal(got[0]["top_patches"], got[1]["top_patches"])
  assert np.abs(expected_maps).sum() > 0 and np.abs(expected_features).sum() > 0


def test_unreachable_coordinator_is_a_clear_error_within_the_timeout():
  port = _free_port()  # nobody listens there
  with pytest.raises(ConnectionError, match=rf"coordinator at 127\.0\.0\.1:{port} within 1 s"):
    sharding.initialize_distributed(f"127.0.0.1:{port}", 2, 1, timeout_seconds=1)
  assert not jax.distributed.is_initialized()


@pytest.mark.parametrize("kwargs,match", [
    ({"coordinator_address": "127.0.0.1:1234"}, "together"),
    ({"coordinator_address": "127.0.0.1", "num_processes": 2, "process_id": 1}, "host:port"),
    ({"coordinator_address": "127.0.0.1:1234", "num_processes": 2, "process_id": 2},
     r"process_id must be an int in \[0, 2\)"),
    ({"coordinator_address": "127.0.0.1:1234", "num_processes": 0, "process_id": 0},
     "num_processes"),
])
def test_bad_arguments_before_anything_starts(kwargs, match):
  with pytest.raises(ValueError, match=match):
    sharding.initialize_distributed(**kwargs, timeout_seconds=1)
  assert not jax.distributed.is_initialized()


def test_local_rows_of_a_single_process_are_the_whole_batch():
  mesh = sharding.batch_mesh()
  assert sharding.local_rows(mesh, sharding.round_up_batch(5, mesh)) == (
      0, sharding.round_up_batch(5, mesh))
  out = sharding.map_batches(jax.jit(lambda x: jnp.cumsum(x, axis=1)),
                             [_LoggedView(np.ones((5, 3), np.float32))], batch_size=2)
  np.testing.assert_array_equal(out, np.tile([1.0, 2.0, 3.0], (5, 1)))
