"""The first image of a style transfer: the content, the style, or noise."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxviz.models.meta import ModelMeta

__all__ = ("initial_images",)


def initial_images(init: str, content: jax.Array, styles: jax.Array, meta: ModelMeta,
                   key: jax.Array, noise: float = 0.1) -> jax.Array:
  """One starting image per style, in the model's input space.

  Args:
    init: ``"content"`` (the content image, Gatys' faster start),
      ``"style"`` (each style image, bilinearly resized to the content's size)
      or ``"noise"`` (mid-grey plus Gaussian noise, Gatys' paper setting).
    content: [1, H, W, C] the content image.
    styles: [S, Hs, Ws, C] the style images.
    meta: the model's metadata (input bounds and units).
    key: PRNG key of the noise; style ``i`` draws with ``fold_in(key, i)``, so
      its start does not depend on how many styles share the run.
    noise: the noise's standard deviation in pixel units ([0, 1]).

  Returns:
    [S, H, W, C] float32 starting images inside ``meta.input_bounds``.

  Raises:
    ValueError: unknown ``init``.
  """
  count = styles.shape[0]
  shape = (count,) + tuple(content.shape[1:])
  if init == "content":
    return jnp.broadcast_to(content, shape).astype(jnp.float32)
  if init == "style":
    return jax.image.resize(styles, shape, "linear").astype(jnp.float32)
  if init == "noise":
    low, high = (jnp.asarray(b) for b in meta.input_bounds)
    unit = jnp.asarray(meta.pixel_budget(noise))
    draw = lambda i: jax.random.normal(jax.random.fold_in(key, i), shape[1:], jnp.float32)
    samples = jax.vmap(draw)(jnp.arange(count))
    return jnp.clip((low + high) / 2 + unit * samples, low, high)
  raise ValueError(f"Unknown init {init!r}; expected 'content', 'style' or 'noise'.")

