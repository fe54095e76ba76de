"""jaxviz: visualizing and probing neural networks in JAX/Flax.

Subpackages: ``models`` (Flax models and weight loaders), ``data`` (datasets
and images), ``attribution`` (saliency, backward rules, CAM, SmoothGrad, IG,
occlusion, sanity checks, segmentation, bias), ``inspect`` (weights,
activations, top-activating inputs, embeddings), ``plotting`` (figures) and
``runs`` (the experiments behind ``experiments/``).
"""

__version__ = "0.1.0"
