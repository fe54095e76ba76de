"""Training small classifiers with optax, resumable from checkpoints.

Used by ``experiments.train`` (the small CNN on Fashion-MNIST) and by the
dataset-bias experiment. The epoch permutation is a function of (seed, epoch),
so a run killed at any step resumes exactly where it stopped.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxviz import checkpoint

LOG = logging.getLogger(__name__)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@functools.partial(jax.jit, static_argnames=("model", "tx"))
def train_step(model, tx, params, opt_state, images, labels):
  """One optimizer step. images: [B, H, W, C] float32; labels: [B] int32."""

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
  """Argmax predictions [N] for float32 images [N, H, W, C], in fixed-size batches."""
  out = []
  n = len(images)
  for start in range(0, n, batch_size):
    chunk = images[start:start + batch_size]
    pad = batch_size - len(chunk) if n > batch_size else 0
    if pad:
      chunk = np.concatenate([chunk, np.zeros((pad,) + chunk.shape[1:], chunk.dtype)])
    out.append(np.asarray(_predict(model, params, chunk))[:len(chunk) - pad])
  return np.concatenate(out)


def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
  return np.random.default_rng([seed, epoch]).permutation(n)


def train(model, spec: dict[str, Any], train_images: np.ndarray, train_labels: np.ndarray, *,
          workdir, batch_size: int, epochs: int, learning_rate: float, seed: int,
          checkpoint_every_steps: int) -> tuple[Any, dict[str, float]]:
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
    seed: PRNG seed for init and shuffling.
    checkpoint_every_steps: steps between checkpoints.

  Returns:
    ``(params, stats)`` with ``train_seconds`` (this process's training time)
    and ``steps``.
  """
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
    LOG.info("Resuming from step %d of %d", step, total_steps)
  start = time.time()
  last_log = start
  metrics = {}
  while step < total_steps:
    epoch, within = divmod(step, steps_per_epoch)
    idx = _permutation(seed, epoch, n)[within * batch_size:(within + 1) * batch_size]
    params, opt_state, metrics = train_step(model, tx, params, opt_state,
                                            train_images[idx], train_labels[idx])
    step += 1
    if step % checkpoint_every_steps == 0 or step == total_steps:
      checkpoint.save(workdir, {"params": params, "opt_state": opt_state, "step": step}, spec)
    now = time.time()
    if now - last_log > 10 or step == total_steps:
      rate = (step - (state or {"step": 0})["step"]) / max(now - start, 1e-9)
      eta = (total_steps - step) / max(rate, 1e-9)
      LOG.info("step %d/%d (epoch %d) loss %.4f acc %.3f | %.1f steps/s, ETA %.0fs", step,
               total_steps, epoch + 1, float(metrics["loss"]), float(metrics["accuracy"]),
               rate, eta)
      last_log = now
  train_seconds = time.time() - start
  checkpoint.save(workdir, {"params": params, "step": step}, spec, final=True)
  return params, {"train_seconds": train_seconds, "steps": step}

