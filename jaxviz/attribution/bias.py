"""Detecting dataset bias with saliency maps: how much saliency falls in a region.

Saliency maps (Simonyan et al. 2013, https://arxiv.org/abs/1312.6034) expose a
shortcut (Geirhos et al. 2020, https://arxiv.org/abs/2004.07780): on images
carrying a planted mark (:mod:`jaxviz.data.marks`), a model that learned the
mark instead of the class puts its saliency inside the mark.

* :func:`region_saliency_fractions` / :func:`mark_saliency_fraction`: the
  share of each map's saliency mass inside a region, and its mean. Its
  chance level (a uniform map) is the region's area fraction.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation

__all__ = ("mark_saliency_fraction", "region_saliency_fractions")


@jax.jit
def _region_fractions(maps, region):
  inside = jnp.sum(jnp.where(region, maps, 0.0), axis=(-2, -1))
  return inside / jnp.sum(maps, axis=(-2, -1))


def region_saliency_fractions(maps: jax.typing.ArrayLike,
                              region: jax.typing.ArrayLike) -> jax.Array:
  """Per map, the share of its saliency mass that lies inside ``region``.

  ``sum(map * region) / sum(map)``. A map with all its mass in the region
  gives 1; a uniform map gives the region's area fraction (the chance
  level). A map with no mass at all (all zeros) gives NaN.

  Args:
    maps: non-negative saliency maps [N, H, W] (e.g. Simonyan's
      ``max_c |grad|`` from :func:`jaxviz.attribution.reductions.saliency_map`).
    region: bool [H, W] (e.g. from :func:`mark_region`).

  Returns:
    float [N] in [0, 1] (NaN for all-zero maps).

  Raises:
    ValueError: wrong shapes or dtypes, or negative / non-finite maps.
  """
  m_shape, r_shape = np.shape(maps), np.shape(region)
  if len(m_shape) != 3:
    raise ValueError(f"maps must have shape [N, H, W], got {m_shape}.")
  if r_shape != m_shape[1:] or jnp.result_type(region) != jnp.bool_:
    raise ValueError(f"region must be a bool array of shape {m_shape[1:]} (the maps' H, W), "
                     f"got {jnp.result_type(region)} {r_shape}.")
  if not jnp.issubdtype(jnp.result_type(maps), jnp.floating):
    raise ValueError(f"maps must be floating point, got {jnp.result_type(maps)}.")
  validation.check_finite(maps, "maps")
  if validation.is_concrete(maps):
    minimum = float(jnp.min(maps))
    if minimum < 0:
      raise ValueError("maps must be non-negative (a saliency magnitude such as |grad|); "
                       f"got a minimum of {minimum}.")
  return _region_fractions(jnp.asarray(maps), jnp.asarray(region))


def mark_saliency_fraction(maps: jax.typing.ArrayLike, region: jax.typing.ArrayLike) -> jax.Array:
  """Mean over maps of the share of saliency mass inside ``region``.

  The mean of :func:`region_saliency_fractions`: 1 when every map lies inside
  the region, the region's area fraction for uniform maps.

  Args:
    maps: non-negative saliency maps [N, H, W].
    region: bool [H, W].

  Returns:
    A float scalar (NaN if some map is all zeros).

  Raises:
    ValueError: see :func:`region_saliency_fractions`.
  """
  return jnp.mean(region_saliency_fractions(maps, region))
