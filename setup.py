"""jaxviz: visualize and probe neural networks in JAX/Flax.

Install from source (PyPI's ``jaxviz`` is an unrelated project):
    pip install -e .[dev]
"""

import pathlib
import re

from setuptools import find_packages
from setuptools import setup

# One version source: jaxviz/__init__.py (read, not imported: nothing is installed yet).
VERSION = re.search(r'^__version__ = "([^"]+)"',
                    (pathlib.Path(__file__).parent / "jaxviz" / "__init__.py").read_text(),
                    re.M).group(1)

setup(
    name="jaxviz",
    version=VERSION,
    description="Visualizing and probing neural networks in JAX/Flax: weights, activations, "
                "embeddings, gradient-based attribution and its sanity checks, input synthesis, "
                "adversarial robustness and shape bias, style transfer.",
    packages=find_packages(include=["jaxviz", "jaxviz.*"]),
    package_data={"jaxviz.assets": ["checksums/*.sha256"]},
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.4.30",
        "flax>=0.8",
        "optax>=0.2",
        "numpy>=1.24",
        "tensorflow-datasets>=4.9",
        "importlib_resources",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",
        "scikit-image>=0.21",
        "absl-py>=1.4",
        "ml-collections>=0.1.1",
        "pillow>=9.0",
        "tflite>=2.10",
        "flatbuffers>=23.0",
        "safetensors>=0.4",
    ],
    extras_require={
        "tf": ["tensorflow-cpu"],
        "bench": ["torch", "captum"],
        "segment": ["opencv-python-headless"],
        "robust": ["foolbox==3.3.4"],  # the cross-check and the PGD benchmark's peer
        "report": ["playwright"],  # the browser check of the tour's report (with Debian's chromium)
        "dev": ["pytest", "pytest-xdist", "hypothesis", "opencv-python-headless"],
    },
)
