"""jaxviz: visualize and probe neural networks in JAX/Flax.

Install from source (PyPI's ``jaxviz`` is an unrelated project):
    pip install -e .[dev]
"""

from setuptools import find_packages
from setuptools import setup

setup(
    name="jaxviz",
    version="0.1.0",
    description="Visualizing and probing neural networks in JAX/Flax: attribution, "
                "inspection, synthesis, robustness, style transfer.",
    packages=find_packages(include=["jaxviz", "jaxviz.*"]),
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
        "dev": ["pytest", "pytest-xdist", "hypothesis", "opencv-python-headless"],
    },
)
