"""Feature transforms that make style transfer work on non-VGG networks.

SWAG, "Rethinking and Improving the Robustness of Image Style Transfer"
(Wang, Li & Vasconcelos, CVPR 2021, https://arxiv.org/abs/2104.05623): the
activations of residual networks are peaky (a few large values, low
entropy), so their Gram matrices are dominated by a few positions and the
optimisation matches those instead of the texture. The paper smooths every
layer with a softmax over *all* its positions and channels before the
losses, ``sigma(F / T)``.

The authors' released code (github.com/peiwang062/swag, ``resnet_swag.py``)
does something else: it multiplies the features of the two deepest ResNet
stages by 0.001 and leaves the softmax commented out. Scaling a layer's
features by ``a`` multiplies its content loss by ``a^2`` and its Gram loss
by ``a^4``, so that variant is a change of per-layer weights, which
:class:`jaxviz.style.StyleConfig` already expresses; what is implemented here
is the paper's softmax.

The second remedy here is the image parameterization: Lucid's style
transfer notebook (https://github.com/tensorflow/lucid, "Style Transfer")
optimises a decorrelated Fourier spectrum instead of pixels, which it finds
matters for non-VGG networks; :func:`image_parameterization` gives the
synthesis package's one (:mod:`jaxviz.synthesis.parameterizations`).

The softmax's values sum to one over the ``H W C`` elements of a layer, so
they shrink with the image size and style and content images of different
sizes would not be comparable (the paper compensates with a style weight of
1e17). :func:`swag_softmax` therefore returns ``H W C * softmax``: a
constant map becomes all ones at any size, and the loss weights keep the
scale of the raw features.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from jaxviz.models.meta import ModelMeta
from jaxviz.synthesis import parameterizations

__all__ = ("image_parameterization", "swag_softmax")


def swag_softmax(features: jax.typing.ArrayLike, temperature: float = 1.0) -> jax.Array:
  """SWAG's smoothing: a softmax over all positions and channels of each image.

  Args:
    features: [B, H, W, C] activations of one layer.
    temperature: ``T`` of ``softmax(F / T)``, > 0; larger is smoother.

  Returns:
    [B, H, W, C] ``H W C * softmax(F / T)`` over the last three axes (mean 1
    per image).
  """
  features = jnp.asarray(features)
  if features.ndim != 4:
    raise ValueError(f"swag_softmax expects [B, H, W, C] features, got shape {features.shape}.")
  b = features.shape[0]
  flat = features.reshape(b, -1) / temperature
  return (jax.nn.softmax(flat, axis=1) * flat.shape[1]).reshape(features.shape)


def image_parameterization(config, meta: ModelMeta, image_shape: Sequence[int]):
  """What the loop optimises for one image ``(H, W, C)``: pixels or a Fourier spectrum.

  Args:
    config: a :class:`~jaxviz.style.StyleConfig` (``parameterization``,
      ``fourier_decay``).
    meta: the model's metadata (the valid box).
    image_shape: ``(H, W, C)`` of the content image.

  Returns:
    ``"pixel"``: the image itself, clipped to the box by ``project`` (Adam's
    projected steps; L-BFGS runs unconstrained and its result is clipped);
    ``"fourier"``: Lucid's decorrelated Fourier parameterization with a
    sigmoid into the box. Both with ``shape (1, H, W, C)`` and
    ``encode(images)`` to start from an image.
  """
  size = tuple(image_shape[:2])
  if config.parameterization == "fourier":
    return parameterizations.fourier(meta, 1, size=size, decay_power=config.fourier_decay)
  return parameterizations.pixel(meta, 1, size=size, squash="clip")
