"""jaxviz: visualizing and probing neural networks in JAX/Flax.

Subpackages: ``models`` (Flax models and weight loaders), ``data`` (datasets,
images, planted-mark datasets), ``attribution`` (saliency, backward rules,
CAM, SmoothGrad, IG, occlusion, sanity checks, segmentation, bias),
``inspect`` (weights, activations, top-activating inputs, embeddings),
``synthesis`` (class models, feature visualization), ``robustness``
(attacks, robustness curves, the attack checklist, shape bias), ``style``
(style transfer), ``plotting`` (figures) and ``report`` (HTML pages);
shared plumbing in ``validation``, ``chunking``, ``sharding``, ``progress``,
``assets``, ``workdir``, ``checkpoint`` and ``training``. The experiments that reproduce the papers' figures live outside
the package, in ``experiments/``.
"""

__version__ = "0.1.0"

__all__ = ("__version__",)
