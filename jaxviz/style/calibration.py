"""Per-layer loss weights that make every layer count alike, for any network.

Gram losses of different layers differ by orders of magnitude (with
MobileNetV2's ReLU6 expansions from 1e-4 at 1/2 resolution to 1e-7 at
1/16), so equal layer weights let one or two layers decide the result. VGG
recipes hide this in weights tuned for VGG; on another network
:func:`balanced_layer_weights` measures the two losses between the content
image and each style image and weights every layer by the inverse of its
median over the styles:

* style layer ``l``: ``1 / median_s L_style,l(content image, style_s)``: at
  the content image (the usual start) each style layer contributes about 1;
* content layer ``l``: ``1 / median_s L_content,l(style_s, content image)``:
  an image with the style image's content would cost about 1 per layer.

With such weights, ``content_weight`` and ``style_weight`` are comparable
numbers whatever the network. :func:`calibrate` turns them into a config in
jcjohnson/neural-style's form instead (every style layer weight 1): the
style weight is the geometric mean of the balanced style weights, so the
layers keep their natural proportions (shallow layers, whose Gram losses are
larger, count more) at an overall scale comparable to the content loss.
This is how the MobileNetV2 presets' weights were made
(:mod:`jaxviz.style.presets`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz.style import losses
from jaxviz.style import objective
from jaxviz.style.config import StyleConfig
from jaxviz.style.features import FeatureExtractor

__all__ = ("balanced_layer_weights", "calibrate")


def _weight(values: jax.Array, name: str, significant_digits: int) -> float:
  median = float(np.median(np.asarray(values)))
  if not median > 0:
    raise ValueError(f"The loss at layer {name!r} is zero for the given images; it cannot be "
                     "balanced.")
  return float(f"{1.0 / median:.{significant_digits}g}")


def balanced_layer_weights(features: FeatureExtractor, config: StyleConfig,
                           content: jax.typing.ArrayLike, styles: jax.typing.ArrayLike,
                           significant_digits: int = 2
                           ) -> tuple[dict[str, float], dict[str, float]]:
  """Content and style layer weights that equalise the layers (see the module docstring).

  Args:
    features: the feature extractor.
    config: its layers and transform are used (not its weights).
    content: [1, H, W, C] the content image in input space.
    styles: [S, H, W, C] the style images in input space, at the content's
      size (the content loss compares positions).
    significant_digits: the weights are rounded to this many digits (so
      that they read well in a config).

  Returns:
    ``(content layer -> weight, style layer -> weight)`` in the config's order.

  Raises:
    ValueError: styles of another size than the content, or a layer whose
      loss is zero for every style (nothing to balance).
  """
  content, styles = jnp.asarray(content), jnp.asarray(styles)
  if styles.shape[1:] != content.shape[1:]:
    raise ValueError(f"styles must have the content's size {content.shape[1:]}, got "
                     f"{styles.shape[1:]}.")
  content_losses, style_losses = _layer_losses(features, config, content, styles)
  return ({name: _weight(v, name, significant_digits) for name, v in content_losses.items()},
          {name: _weight(v, name, significant_digits) for name, v in style_losses.items()})


@functools.partial(jax.jit, static_argnames=("features", "config"))
def _layer_losses(features, config, content, styles):
  """Per layer, [S] content losses of the styles and style losses of the content."""
  of_styles = objective.make_targets(features, config, styles, styles)
  of_content = objective.make_targets(features, config, content, content)
  return ({name: losses.mean_squared_difference(of_styles.content[name],
                                                of_content.content[name])
           for name, _ in config.content_layers},
          {name: losses.mean_squared_difference(of_styles.grams[name], of_content.grams[name])
           for name, _ in config.style_layers})


def calibrate(features: FeatureExtractor, config: StyleConfig, content: jax.typing.ArrayLike,
              styles: jax.typing.ArrayLike, significant_digits: int = 2) -> StyleConfig:
  """``config`` with equal layer weights and content/style weights measured on the images.

  Content layers get their balanced weights (see :func:`balanced_layer_weights`)
  with ``content_weight = 1``; every style layer gets weight 1 and
  ``style_weight`` becomes the geometric mean of the balanced style weights.
  The TV weight is kept.

  Args:
    features, config, content, styles, significant_digits: as for
      :func:`balanced_layer_weights`.

  Returns:
    The calibrated :class:`~jaxviz.style.StyleConfig`.
  """
  content_weights, style_weights = balanced_layer_weights(features, config, content, styles,
                                                          significant_digits)
  style_weight = float(np.exp(np.mean(np.log(list(style_weights.values())))))
  return config.replace(content_layers=content_weights,
                        style_layers={name: 1.0 for name in style_weights},
                        content_weight=1.0,
                        style_weight=float(f"{style_weight:.{significant_digits}g}"))
