"""Benchmarks of jaxviz against Captum/PyTorch (see ``scripts/benchmark.py``).

:mod:`jaxviz.bench.timing` holds the timing, the measured methods and the
report; :mod:`jaxviz.bench.torch_models` (needs ``pip install -e .[bench]``)
the PyTorch twins of the jaxviz models. Import the latter explicitly.
"""

from jaxviz.bench.timing import IMPLS
from jaxviz.bench.timing import METHODS
from jaxviz.bench.timing import MODELS
from jaxviz.bench.timing import Timing
from jaxviz.bench.timing import ig_peak_memory
from jaxviz.bench.timing import load_bench_model
from jaxviz.bench.timing import markdown_report
from jaxviz.bench.timing import parse_batch_sizes
from jaxviz.bench.timing import parse_methods
from jaxviz.bench.timing import parse_models
from jaxviz.bench.timing import run_model
from jaxviz.bench.timing import time_call

__all__ = (
    "IMPLS",
    "METHODS",
    "MODELS",
    "Timing",
    "ig_peak_memory",
    "load_bench_model",
    "markdown_report",
    "parse_batch_sizes",
    "parse_methods",
    "parse_models",
    "run_model",
    "time_call",
)
