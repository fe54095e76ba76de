"""benchmarks/synthesis.py: the PyTorch loop renders what jaxviz renders; records."""

import jax
import numpy as np
import pytest

from jaxviz import synthesis
from jaxviz.models.meta import ModelMeta

torch = pytest.importorskip("torch")

from benchmarks import synthesis as bench_synthesis  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_torch_fourier_render_matches_jaxviz():
  meta = ModelMeta("vgg", (12, 10, 3), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), ("a",))
  param = synthesis.fourier(meta, 2, init_scale=0.5)
  params = np.asarray(param.init(jax.random.key(0)))  # [B, H, W', C, 2]
  expected = np.asarray(param.render(params))  # [B, H, W, C]
  coefficients = torch.from_numpy(np.ascontiguousarray(params.transpose(0, 3, 1, 2, 4)))
  got = bench_synthesis.torch_fourier_render(param, coefficients).numpy().transpose(0, 2, 3, 1)
  np.testing.assert_allclose(got, expected, atol=1e-5)


def test_benchmark_records_for_both_sides():
  records = bench_synthesis.synthesis_benchmark(
      models=["small_cnn"], batch_sizes=[2], steps=2, repeats=1, warmups=1,
      min_sample_seconds=0.0, methods=["synthesis_pixel"])
  assert {r["impl"] for r in records} == {"jaxviz", "torch"}
  for r in records:
    assert r["model"] == "small_cnn" and r["method"] == "synthesis_pixel" and r["batch"] == 2
    np.testing.assert_allclose(r["synthesis_steps_per_second"], 2 * r["images_per_second"])
  table = bench_synthesis.synthesis_markdown(records)
  assert "| small_cnn | synthesis_pixel | 2 |" in table
  with pytest.raises(ValueError, match="Unknown or no synthesis method"):
    bench_synthesis.synthesis_benchmark(models=["small_cnn"], methods=["deepdream"])
