"""Training small classifiers with optax, resumable from checkpoints.

Used by ``experiments.train`` (the small CNN on Fashion-MNIST), by the
dataset-bias experiment and, through the ``perturb`` hook, by adversarial
training. The epoch permutation is a function of (seed, epoch) and the step's
PRNG key a function of (seed, step), so a run killed at any step resumes
exactly where it stopped.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxviz import checkpoint
from jaxviz import progress
from jaxviz import sharding
from jaxviz import validation

__all__ = ("Perturb", "cross_entropy", "predict_labels", "train", "train_step")

# perturb(params, images, labels, key) -> images: applied to every training
# batch inside the jitted step (e.g. a PGD attack for adversarial training).
Perturb = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy of logits [B, K] against int labels [B]."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@functools.partial(jax.jit, static_argnames=("model", "tx", "perturb"))
def train_step(model, tx, perturb, params, opt_state, images, labels, key):
  """One optimizer step. images: [B, H, W, C] float32; labels: [B] int32.

  With ``perturb`` the step trains on ``perturb(params, images, labels, key)``
  (computed with the current parameters, not differentiated through).
  """
  if perturb is not None:
    images = jax.lax.stop_gradient(perturb(params, images, labels, key))

  def loss_fn(p):
    logits = model.apply({"params": p}, images)
    return cross_entropy(logits, labels), logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  updates, opt_state = tx.update(grads, opt_state, params)
  params = optax.apply_updates(params, updates)
  acc = jnp.mean(jnp.argmax(logits, -1) == labels)
  return params, opt_state, {"loss": loss, "accuracy": acc}


@functools.partial(jax.jit, static_argnames=("model",))
def _predict(model, params, images):
  return jnp.argmax(model.apply({"params": params}, images), -1)


def predict_labels(model, params, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
  """Argmax predictions [N] for float32 model inputs [N, H, W, C].

  Batches go through :func:`jaxviz.sharding.map_batches` (fixed size, the last
  one padded, sharded over the local devices), so one program serves them all.
  """
  mesh = sharding.batch_mesh()
  placed = sharding.put_replicated(params, mesh)
  return sharding.map_batches(lambda x: _predict(model, placed, x), [images],
                              batch_size=batch_size, mesh=mesh)


def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(n)


def train(model, spec: dict[str, Any], train_images: np.ndarray, train_labels: np.ndarray, *,
          workdir, batch_size: int, epochs: int, learning_rate: float, seed: int,
          checkpoint_every_steps: int, perturb: Perturb | None = None
          ) -> tuple[Any, dict[str, float]]:
  """Trains ``model`` with Adam (cosine decay), checkpointing into ``workdir``.

  Args:
    model: a Flax module mapping [B, H, W, C] float32 to logits.
    spec: JSON model spec saved with the checkpoint (see ``jaxviz.checkpoint``).
    train_images: float32 [N, H, W, C] model inputs.
    train_labels: int32 [N].
    workdir: directory for ``checkpoint/``; an existing state is resumed.
    batch_size: examples per step (the last partial batch of an epoch is dropped).
    epochs: passes over the data.
    learning_rate: peak Adam learning rate.
    seed: PRNG seed for init, shuffling and the ``perturb`` keys.
    checkpoint_every_steps: steps between checkpoints.
    perturb: optional ``perturb(params, images, labels, key) -> images``
      (jittable, hashable: reuse one object) applied to every batch inside
      the jitted step, e.g. PGD for adversarial training (Madry et al. 2018,
      https://arxiv.org/abs/1706.06083). Step ``s`` gets
      ``fold_in(key(seed), s)``.

  Returns:
    ``(params, stats)`` with ``train_seconds`` (this process's training time)
    and ``steps``.

  Raises:
    ValueError: bad counts or fewer examples than ``batch_size``.
  """
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  epochs = validation.check_positive_int(epochs, "epochs")
  checkpoint_every_steps = validation.check_positive_int(checkpoint_every_steps,
                                                         "checkpoint_every_steps")
  n = len(train_images)
  if n < batch_size:
    raise ValueError(f"Need at least batch_size={batch_size} training examples, got {n}.")
  steps_per_epoch = n // batch_size
  total_steps = steps_per_epoch * epochs
  tx = optax.adam(optax.cosine_decay_schedule(learning_rate, total_steps))
  state = checkpoint.restore(workdir)
  # An rbg key compiles the initialisers several times faster than threefry on CPU.
  init_key = jax.random.key(seed, impl="rbg")
  params = jax.jit(model.init)(init_key, jnp.asarray(train_images[:1]))["params"]
  opt_state = tx.init(params)
  step = 0
  if state is not None:
    params = jax.tree.map(jnp.asarray, state["params"])
    opt_state = flax.serialization.from_state_dict(opt_state, state["opt_state"])
    step = int(state["step"])
  perturb_key = jax.random.key(seed)
  reporter = progress.Progress(total_steps, "steps", name="train", start=step)
  start = time.time()
  while step < total_steps:
    epoch, within = divmod(step, steps_per_epoch)
    idx = _permutation(seed, epoch, n)[within * batch_size:(within + 1) * batch_size]
    params, opt_state, metrics = train_step(model, tx, perturb, params, opt_state,
                                            train_images[idx], train_labels[idx],
                                            jax.random.fold_in(perturb_key, step))
    step += 1
    if step % checkpoint_every_steps == 0 or step == total_steps:
      checkpoint.save(workdir, {"params": params, "opt_state": opt_state, "step": step}, spec)
    reporter.update(step, epoch=epoch + 1, loss=metrics["loss"], accuracy=metrics["accuracy"])
  train_seconds = time.time() - start
  checkpoint.save(workdir, {"params": params, "step": step}, spec, final=True)
  return params, {"train_seconds": train_seconds, "steps": step}
