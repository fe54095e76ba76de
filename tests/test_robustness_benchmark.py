"""benchmarks.robustness: PGD throughput records of jaxviz, torchattacks and Foolbox."""

import pytest

from benchmarks import robustness as bench_robustness

pytest.importorskip("torch")


def test_pgd_benchmark_records_and_table():
  records = bench_robustness.pgd_benchmark(["small_cnn"], [2], steps=2, repeats=1, warmups=1,
                                           min_sample_seconds=0.0, torch_threads=1)
  impls = {r["impl"] for r in records}
  assert "jaxviz" in impls and impls <= set(bench_robustness.PGD_IMPLS)
  for r in records:
    assert r["model"] == "small_cnn" and r["method"] == "pgd2" and r["batch"] == 2
    assert r["pgd_steps_per_second"] == pytest.approx(2 * r["images_per_second"])
  table = bench_robustness.pgd_markdown(records)
  assert "| small_cnn | pgd2 | 2 |" in table
  with pytest.raises(ValueError, match="Unknown PGD implementation"):
    bench_robustness.pgd_benchmark(["small_cnn"], [2], impls=["cleverhans"])
