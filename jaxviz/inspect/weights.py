"""What the weights look like: conv filters as images and linear class templates.

First-layer filters of an image model live in pixel space, so each one can be
drawn as a small image (RGB for colour inputs, gray for one channel). Deeper
filters have one 2-D slice per input channel; each slice is drawn as a gray
image (Krizhevsky et al. 2012 show first-layer filters this way; Zeiler &
Fergus 2014, https://arxiv.org/abs/1311.2901, discuss why deeper filters need
other tools). The weight matrix of a linear softmax classifier on images has
one column per class; reshaped to the image shape it is the class's
*template*.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ("class_templates", "CONSTANT_FILTER_VALUE", "filter_grid", "layer_kernel",
           "normalize_to_uint8_range")

# Value given to every pixel of a constant filter (nothing to normalise):
# mid-gray, so a constant filter is visibly "flat" rather than black.
CONSTANT_FILTER_VALUE = 127.5


def normalize_to_uint8_range(x: jax.typing.ArrayLike, axes: Sequence[int]) -> jax.Array:
  """Affinely maps each slice over ``axes`` to [0, 255] (min -> 0, max -> 255).

  The map is ``(x - min) / (max - min) * 255``; the minimum becomes exactly 0
  and the maximum exactly 255 (set explicitly). A constant slice has
  no range; all its values become :data:`CONSTANT_FILTER_VALUE` (127.5).

  Args:
    x: any float array.
    axes: the axes that make up one slice (normalised together).

  Returns:
    float32 array of ``x``'s shape, values in [0, 255].
  """
  x = jnp.asarray(x, jnp.float32)
  lo = jnp.min(x, axis=tuple(axes), keepdims=True)
  hi = jnp.max(x, axis=tuple(axes), keepdims=True)
  span = hi - lo
  scaled = jnp.clip((x - lo) / jnp.where(span > 0, span, 1.0) * 255.0, 0.0, 255.0)
  # XLA may compute the division as a reciprocal product (off by an ulp), so
  # the extremes are set explicitly.
  scaled = jnp.where(x == hi, 255.0, jnp.where(x == lo, 0.0, scaled))
  return jnp.where(span > 0, scaled, CONSTANT_FILTER_VALUE)


def filter_grid(kernel: jax.typing.ArrayLike, per_input_channel: bool = False) -> jax.Array:
  """Conv filters as images, each normalised to [0, 255].

  Args:
    kernel: conv kernel [kh, kw, I, O] (HWIO). A depthwise kernel
      [kh, kw, 1, C] is C one-channel filters.
    per_input_channel: False: one image per output filter with all its input
      channels, [O, kh, kw, I]; needs I in {1, 3} (gray or RGB, i.e. a first
      layer or a depthwise layer) and normalises each filter over all of
      its channels together, so the colour balance is kept. True: one gray
      image per (output filter, input channel) slice, [O, I, kh, kw], each
      slice normalised on its own (for deeper layers).

  Returns:
    float32 in [0, 255]: each image's min is exactly 0 and max exactly 255;
    a constant image is 127.5 everywhere (mid-gray).

  Raises:
    ValueError: kernel not rank 4, or I not in {1, 3} with
      ``per_input_channel=False``.
  """
  shape = np.shape(kernel)
  if len(shape) != 4:
    raise ValueError(f"kernel must be a conv kernel [kh, kw, I, O], got shape {tuple(shape)}.")
  if per_input_channel:
    slices = jnp.transpose(jnp.asarray(kernel), (3, 2, 0, 1))  # [O, I, kh, kw]
    return normalize_to_uint8_range(slices, axes=(2, 3))
  if shape[2] not in (1, 3):
    raise ValueError(
        f"kernel has {shape[2]} input channels; only 1 (gray) or 3 (RGB) can be drawn as one "
        "image per filter. Pass per_input_channel=True to draw each input channel's slice.")
  filters = jnp.transpose(jnp.asarray(kernel), (3, 0, 1, 2))  # [O, kh, kw, I]
  return normalize_to_uint8_range(filters, axes=(1, 2, 3))


def class_templates(kernel: jax.typing.ArrayLike, image_shape: Sequence[int]) -> jax.Array:
  """Columns of a linear classifier's weight matrix as images.

  Args:
    kernel: weights [D, K] of ``logits = flatten(x) @ kernel + b``, with
      ``D = H * W * C`` and x flattened in row-major [H, W, C] order.
    image_shape: ``(H, W, C)``.

  Returns:
    [K, H, W, C]: ``out[k] == kernel[:, k].reshape(H, W, C)`` exactly (the
    raw signed weights, not rescaled).

  Raises:
    ValueError: kernel not [D, K], or D != H * W * C.
  """
  shape = np.shape(kernel)
  image_shape = tuple(int(s) for s in image_shape)
  if len(shape) != 2:
    raise ValueError(f"kernel must be a dense weight matrix [D, K], got shape {tuple(shape)}.")
  if len(image_shape) != 3 or int(np.prod(image_shape)) != shape[0]:
    raise ValueError(f"image_shape {image_shape} must be (H, W, C) with H * W * C = D = "
                     f"{shape[0]} (the kernel's first axis).")
  return jnp.reshape(jnp.transpose(jnp.asarray(kernel)), (shape[1],) + image_shape)


def layer_kernel(params: Mapping[str, Any], layer: str) -> jax.Array:
  """The ``kernel`` parameter of the named layer.

  Args:
    params: a Flax params dict (no ``{"params": ...}`` wrapper).
    layer: module path joined by ``/``, e.g. ``"conv1"`` or
      ``"expanded_conv/depthwise"``.

  Returns:
    The kernel: [kh, kw, I, O] for a conv, [I, O] for a dense layer.

  Raises:
    ValueError: no kernel at that path; the message lists the layers that
      have one.
  """
  node = params
  for part in layer.split("/"):
    node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
      break
  if isinstance(node, Mapping) and "kernel" in node:
    return jnp.asarray(node["kernel"])
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  valid = sorted({"/".join(k.key for k in path[:-1]) for path, _ in flat
                  if getattr(path[-1], "key", None) == "kernel"})
  raise ValueError(f"Layer {layer!r} has no kernel. Layers with a kernel: {valid}.")
