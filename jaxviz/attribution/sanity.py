"""Model-randomization sanity checks for attribution methods.

Adebayo et al. 2018, "Sanity Checks for Saliency Maps",
https://arxiv.org/abs/1810.03292.

If an attribution method explains the *model*, its maps must change when the
model's weights are destroyed. The *cascading* test re-initialises the
weights layer by layer from the top (logits) down and compares each map with
the map of the trained model; the *independent* test re-initialises one layer
at a time, the others keeping their trained values. A method whose maps stay
(rank-)correlated with the original under randomization, like an edge
detector that ignores the model, fails the check.

Choices (documented because they change the numbers):

* Re-initialisation: every floating weight array of a layer (kernel, bias,
  ...) is replaced by ``std(w) * N(0, 1)`` noise, i.e. a zero-mean random
  normal with the standard deviation of the original array, so activations
  keep their scale. Arrays with zero spread (e.g. all-zero biases) stay zero;
  integer arrays are kept.
* A "layer" is a top-level key of ``params`` (for Flax, a direct submodule:
  a whole MobileNet block is one layer).
* Maps are reduced to one value per pixel: ``[B, H, W, C]`` attributions by
  the channel with the largest magnitude (its absolute value when
  ``absolute=True``, the signed value otherwise); ``[B, H, W]`` maps (e.g.
  Grad-CAM) are used as they are, or their absolute value.
* Similarity: Spearman rank correlation between the original and randomized
  map of each image, averaged over the batch. The paper's main metric uses
  absolute values (``absolute=True``, the default): a map whose signs flip
  but whose important pixels stay the same still counts as similar. Ties (e.g.
  pixels zeroed by ReLU gating in guided backprop) get their average rank, as
  in :func:`scipy.stats.spearmanr`. A constant map (e.g. an all-zero Grad-CAM
  after its ReLU) has no defined correlation: such images are left out of
  the batch mean, which is NaN only when no image has a defined value.

Methods that need more than ``f`` can rebuild it from ``f``: with
``build_f = lambda p: functools.partial(model.apply, {"params": p})``, Grad-CAM
is ``lambda f, x, t: grad_cam(taps.flax_layer_fn(model, f.args[0], "conv2"),
x, t)``.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.attribution import reductions

__all__ = ("ORIGINAL", "cascading_randomization", "independent_randomization", "randomize_layer",
           "reduce_map", "spearman_rank_correlation")

ORIGINAL = "original"


def spearman_rank_correlation(a: jax.typing.ArrayLike, b: jax.typing.ArrayLike) -> jax.Array:
  """Spearman rank correlation between paired maps, one value per sample.

  Args:
    a: maps ``[B, ...]`` (flattened per sample).
    b: maps of the same shape.

  Returns:
    ``[B]`` correlations in [-1, 1] (NaN where a map is constant).

  Raises:
    ValueError: shapes differ or have no batch axis.
  """
  a, b = jnp.asarray(a), jnp.asarray(b)
  if a.shape != b.shape or a.ndim < 2:
    raise ValueError(f"a and b must have the same shape [B, ...], got {a.shape} and {b.shape}.")
  return _spearman(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1))


@jax.jit
def _spearman(a, b):
  # Average ranks for ties, as scipy.stats.spearmanr (offsets cancel below).
  ranks_a = jax.vmap(jax.scipy.stats.rankdata)(a)
  ranks_b = jax.vmap(jax.scipy.stats.rankdata)(b)
  ranks_a = ranks_a - ranks_a.mean(axis=1, keepdims=True)
  ranks_b = ranks_b - ranks_b.mean(axis=1, keepdims=True)
  return jnp.sum(ranks_a * ranks_b, axis=1) / jnp.sqrt(
      jnp.sum(ranks_a**2, axis=1) * jnp.sum(ranks_b**2, axis=1))


def reduce_map(attr: jax.typing.ArrayLike, *, absolute: bool = True) -> jax.Array:
  """One value per pixel: ``[B, H, W, C] -> [B, H, W]``; ``[B, H, W]`` kept.

  Args:
    attr: attribution ``[B, H, W, C]`` or map ``[B, H, W]``.
    absolute: return magnitudes (channel max of ``|attr|``); otherwise the
      signed value of the channel with the largest magnitude.

  Returns:
    ``[B, H, W]``.

  Raises:
    ValueError: ``attr`` is not rank 3 or 4.
  """
  attr = jnp.asarray(attr)
  if attr.ndim not in (3, 4):
    raise ValueError(f"attribution must be [B, H, W, C] or [B, H, W], got shape {attr.shape}.")
  if attr.ndim == 4:
    return reductions.reduce_channels(attr, "max_abs" if absolute else "max_abs_signed")
  return jnp.abs(attr) if absolute else attr


_BLOCK = 1 << 16


@jax.jit
def _normal_block(key):
  return jax.random.normal(key, (_BLOCK,), jnp.float32)


def _standard_normal(key, shape, dtype):
  """N(0, 1) noise of any shape from one compiled fixed-size generator.

  Drawing block ``i`` with ``fold_in(key, i)`` and trimming avoids compiling
  a random generator per array shape (seconds each on CPU), which would
  dominate the randomization of a model with many differently shaped arrays.
  """
  size = math.prod(shape)
  if size == 0:
    return jnp.zeros(shape, dtype)
  blocks = [_normal_block(jax.random.fold_in(key, i)) for i in range(-(-size // _BLOCK))]
  return jnp.concatenate(blocks)[:size].reshape(shape).astype(dtype)


def randomize_layer(layer_params, key: jax.Array):
  """Re-initialises a layer's arrays with std-matched zero-mean normal noise.

  Args:
    layer_params: pytree of the layer's arrays (e.g. ``{"kernel", "bias"}``).
    key: PRNG key.

  Returns:
    Same structure, shapes and dtypes; each floating array ``w`` replaced by
    ``std(w) * N(0, 1)``, integer arrays unchanged.
  """
  validation.check_key(key)
  leaves, treedef = jax.tree_util.tree_flatten(layer_params)
  new = []
  for i, leaf in enumerate(leaves):
    leaf = jnp.asarray(leaf)
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      noise = _standard_normal(jax.random.fold_in(key, i), leaf.shape, leaf.dtype)
      leaf = jnp.std(leaf) * noise
    new.append(leaf)
  return jax.tree_util.tree_unflatten(treedef, new)


def _defined_mean(values: jax.Array) -> float:
  """Mean over the finite values (NaN if there are none)."""
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  return float(values.mean()) if values.size else float("nan")


def _randomization_test(build_f, params, layer_order, x, targets, methods, key, *, cascade,
                        absolute, return_maps):
  """Shared body of the cascading and independent tests."""
  validation.check_images(x)
  validation.check_key(key)
  if not isinstance(params, Mapping):
    raise ValueError(f"params must be a mapping from layer name to arrays, got "
                     f"{type(params).__name__}.")
  layer_order = list(layer_order)
  if not layer_order:
    raise ValueError("layer_order is empty; give params' top-level keys from top to bottom.")
  unknown = [layer for layer in layer_order if layer not in params]
  if unknown:
    raise ValueError(f"Unknown layer(s) {unknown} in layer_order. Valid (params' top-level "
                     f"keys): {list(params)}.")
  if len(set(layer_order)) != len(layer_order):
    raise ValueError(f"layer_order has duplicates: {layer_order}.")
  if ORIGINAL in layer_order:
    raise ValueError(f"{ORIGINAL!r} is reserved for the unrandomized maps; rename that layer.")
  if not methods or not all(callable(m) for m in methods.values()):
    raise ValueError("methods must be a non-empty dict {name: method(f, x, targets)}.")
  if np.ndim(targets) != 1:
    raise ValueError(f"targets must be [B] (one map per image), got shape {np.shape(targets)}.")
  f = build_f(params)
  gradients.prepare_targets(f, x, targets)
  x, targets = jnp.asarray(x), jnp.asarray(targets)

  def all_maps(f):
    return {name: reduce_map(method(f, x, targets), absolute=absolute)
            for name, method in methods.items()}

  original = all_maps(f)
  maps = {name: {ORIGINAL: np.asarray(m)} for name, m in original.items()}
  correlations = {name: {} for name in methods}
  current = dict(params)
  for index, layer in enumerate(layer_order):
    randomized = randomize_layer(params[layer], jax.random.fold_in(key, index))
    if cascade:
      current[layer] = randomized
      layer_params = dict(current)
    else:
      layer_params = {**params, layer: randomized}
    for name, m in all_maps(build_f(layer_params)).items():
      maps[name][layer] = np.asarray(m)
      correlations[name][layer] = _defined_mean(spearman_rank_correlation(original[name], m))
  return (correlations, maps) if return_maps else correlations


def cascading_randomization(build_f: Callable, params: Mapping, layer_order: Sequence[str],
                            x: jax.typing.ArrayLike, targets: jax.typing.ArrayLike,
                            methods: Mapping[str, Callable], *, key: jax.Array,
                            absolute: bool = True, return_maps: bool = False):
  """Cascading randomization: layers re-initialised from the top down, cumulatively.

  Args:
    build_f: ``build_f(params) -> f`` with ``f: x [B, H, W, C] -> logits [B, K]``
      (e.g. ``lambda p: functools.partial(model.apply, {"params": p})``).
    params: the trained parameters, a mapping whose top-level keys are layers.
    layer_order: the layers to randomize, from the top (logits) to the
      bottom (input).
    x: input images ``[B, H, W, C]``.
    targets: int target logits ``[B]``.
    methods: ``{name: method}``, each ``method(f, x, targets)`` returning
      ``[B, H, W, C]`` or ``[B, H, W]`` (bind options with functools.partial).
    key: PRNG key; layer ``layer_order[i]`` is re-initialised with
      ``fold_in(key, i)`` (also in :func:`independent_randomization`, so both
      tests use the same random weights).
    absolute: compare magnitudes (the paper's main metric) or signed maps.
    return_maps: also return the reduced maps.

  Returns:
    ``correlations[method][layer]``: the batch-mean Spearman rank correlation
    (a float) between the original map and the map with that layer and every
    layer above it (earlier in ``layer_order``) re-initialised; with
    ``return_maps``, ``(correlations, maps)`` where
    ``maps[method]["original" | layer]`` is a numpy ``[B, H, W]`` array.

  Raises:
    ValueError: unknown or duplicate layers, bad inputs, targets not ``[B]``.
  """
  return _randomization_test(build_f, params, layer_order, x, targets, methods, key,
                             cascade=True, absolute=absolute, return_maps=return_maps)


def independent_randomization(build_f: Callable, params: Mapping, layer_order: Sequence[str],
                              x: jax.typing.ArrayLike, targets: jax.typing.ArrayLike,
                              methods: Mapping[str, Callable], *, key: jax.Array,
                              absolute: bool = True, return_maps: bool = False):
  """Independent randomization: one layer re-initialised at a time.

  Arguments, return value and errors as :func:`cascading_randomization`,
  except that ``correlations[method][layer]`` compares the original map with
  the map of the model where only ``layer`` is re-initialised.
  """
  return _randomization_test(build_f, params, layer_order, x, targets, methods, key,
                             cascade=False, absolute=absolute, return_maps=return_maps)
