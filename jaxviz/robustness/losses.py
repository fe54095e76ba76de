"""Attack objectives: per-example losses that an attack *ascends*, and success.

Every loss takes logits ``[B, K]`` for any number of classes ``K`` (nothing is
hard-coded; cleverhans' JAX FGM assumed 10), the true labels ``[B]`` and,
for a targeted attack, the target labels ``[B]`` (logit indices). It returns
``[B]`` values that grow as the attack gets closer to its goal:

* ``"cross_entropy"``: untargeted ``CE(logits, label)``; targeted
  ``-CE(logits, target)`` (Goodfellow et al. 2014, Madry et al. 2018).
* ``"margin"``: the Carlini & Wagner margin (https://arxiv.org/abs/1608.04644)
  without its confidence clamp, so its gradient never vanishes: untargeted
  ``max_{j != label} z_j - z_label``; targeted ``z_target - max_{j != target}
  z_j``. It is > 0 exactly when the attack succeeds.

An attack succeeds on an example when the prediction differs from the label
(untargeted) or equals the target (targeted).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

__all__ = ("LOSSES", "attack_loss", "cross_entropy_loss", "margin_loss", "succeeded")

LossFn = Callable[[jax.Array, jax.Array, jax.Array | None], jax.Array]


def cross_entropy_loss(logits: jax.Array, labels: jax.Array,
                       targets: jax.Array | None = None) -> jax.Array:
  """[B] CE of the label (untargeted) or minus CE of the target (targeted)."""
  if targets is None:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  return -optax.softmax_cross_entropy_with_integer_labels(logits, targets)


def _margin(logits: jax.Array, classes: jax.Array) -> jax.Array:
  """``z_class - max_{j != class} z_j`` per example."""
  own = jnp.take_along_axis(logits, classes[:, None], axis=1)[:, 0]
  is_own = jnp.arange(logits.shape[1])[None, :] == classes[:, None]
  other = jnp.max(jnp.where(is_own, -jnp.inf, logits), axis=1)
  return own - other


def margin_loss(logits: jax.Array, labels: jax.Array,
                targets: jax.Array | None = None) -> jax.Array:
  """[B] CW margin: > 0 exactly when the (un)targeted attack succeeds."""
  if targets is None:
    return -_margin(logits, labels)
  return _margin(logits, targets)


LOSSES: dict[str, LossFn] = {"cross_entropy": cross_entropy_loss, "margin": margin_loss}


def attack_loss(name: str) -> LossFn:
  """The loss function called ``name``; a ValueError lists the known ones."""
  if name not in LOSSES:
    raise ValueError(f"Unknown attack loss {name!r}; expected one of {sorted(LOSSES)}.")
  return LOSSES[name]


def succeeded(logits: jax.Array, labels: jax.Array,
              targets: jax.Array | None = None) -> jax.Array:
  """[B] bool: prediction != label (untargeted) or == target (targeted)."""
  predictions = jnp.argmax(logits, axis=1)
  if targets is None:
    return predictions != labels
  return predictions == targets
