"""One helper for every method that sums over samples, path points or patches.

SmoothGrad sums over noisy samples, integrated gradients over points of a
path, occlusion over patch positions. Each evaluates ``fn(item)`` for N items
and adds up the results; doing all N at once can exhaust memory, doing them
one at a time wastes the hardware. :func:`chunked_sum` does ``chunk_size`` of
them at once (``jax.vmap``) and loops over the chunks with
:func:`jax.lax.scan`, so peak memory is that of ``chunk_size`` simultaneous
calls whatever N is, and the whole sum is one compiled program.

The N items are split into equal chunks of at most ``chunk_size`` (50 items
with ``chunk_size=16`` run as 4 chunks of 13); the last chunk is padded with
copies of the last item (so padded calls see valid inputs and cannot produce
NaN), and their results are masked out with ``jnp.where`` before the sum.
(Captum's ``attr/_utils/batching.py`` plays the same role for PyTorch.)
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxviz import validation

__all__ = ("chunk_layout", "chunked_sum")


def chunk_layout(num_items: int, chunk_size: int) -> tuple[int, int]:
  """``(num_chunks, per_chunk)``: equal chunks of at most ``chunk_size`` covering N items.

  Raises:
    ValueError: ``num_items`` or ``chunk_size`` is not a positive int.
  """
  num_items = validation.check_positive_int(num_items, "the number of items")
  chunk_size = validation.check_positive_int(chunk_size, "chunk_size")
  num_chunks = -(-num_items // chunk_size)
  return num_chunks, -(-num_items // num_chunks)


def _pad_and_split(leaf, num_items: int, num_chunks: int, per_chunk: int):
  leaf = jnp.asarray(leaf)
  pad = num_chunks * per_chunk - num_items
  if pad:
    leaf = jnp.concatenate([leaf, jnp.repeat(leaf[-1:], pad, axis=0)])
  return leaf.reshape((num_chunks, per_chunk) + leaf.shape[1:])


def chunked_sum(fn: Callable[[Any], Any], items: Any, *, chunk_size: int) -> Any:
  """``sum_i fn(items[i])`` evaluated ``chunk_size`` items at a time.

  Jittable (``chunk_size`` and the item count are static); under an outer
  ``jit`` the items can be traced values.

  Args:
    fn: a function of one item (a pytree of arrays without the leading item
      axis) returning a pytree of arrays.
    items: a pytree of arrays ``[N, ...]`` with the same leading size N.
    chunk_size: items evaluated at once (bounds peak memory).

  Returns:
    The pytree ``sum_i fn(items[i])``, shaped like one ``fn`` output.

  Raises:
    ValueError: no items, leaves of different leading sizes, or a bad
      ``chunk_size``.
  """
  leaves = jax.tree.leaves(items)
  if not leaves:
    raise ValueError("chunked_sum needs at least one array of items.")
  sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
  if len(sizes) != 1 or None in sizes:
    raise ValueError("Every item array needs the same leading axis, got sizes "
                     f"{sorted(map(str, sizes))}.")
  num_items = sizes.pop()
  num_chunks, per_chunk = chunk_layout(num_items, chunk_size)
  chunks = jax.tree.map(lambda a: _pad_and_split(a, num_items, num_chunks, per_chunk), items)
  valid = jnp.asarray((np.arange(num_chunks * per_chunk) < num_items)
                      .reshape(num_chunks, per_chunk))
  one = jax.eval_shape(fn, jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a)[1:],
                                                                        jnp.result_type(a)),
                                        items))

  def body(total, chunk):
    chunk_items, chunk_valid = chunk
    outs = jax.vmap(fn)(chunk_items)

    def masked_sum(out):
      keep = chunk_valid.reshape((per_chunk,) + (1,) * (out.ndim - 1))
      return jnp.sum(jnp.where(keep, out, jnp.zeros((), out.dtype)), axis=0)

    return jax.tree.map(lambda t, o: t + masked_sum(o), total, outs), None

  init = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), one)
  total, _ = lax.scan(body, init, (chunks, valid))
  return total
