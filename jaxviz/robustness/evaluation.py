"""Robustness curves: accuracy against epsilon over a dataset, from batched attacks.

:func:`robustness_curve` runs an attack at every epsilon of a sweep on every
batch of a dataset (the last batch padded to the same size, so each
configuration compiles once, whatever the dataset size) and keeps the
per-example outcome. From it come the accuracy and error against epsilon,
the mean confidence of the adversarial predictions (Goodfellow et al. report
79.3% for their MNIST softmax classifier at epsilon 0.25) and each example's
minimal epsilon: the smallest epsilon of the sweep at which the attack
succeeds (with a sweep that starts at 0, 0 for an input that is misclassified
already; ``inf`` when no epsilon of the sweep succeeds).

Every batch uses the same key at every epsilon (``fold_in(key, batch)``), so
the curves differ only by epsilon.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import sharding
from jaxviz import validation
from jaxviz.models import meta as meta_lib
from jaxviz.progress import Progress
from jaxviz.robustness import core
from jaxviz.robustness import fast_gradient
from jaxviz.robustness import projected_gradient

__all__ = ("ATTACKS", "Attack", "RobustnessCurve", "make_attack", "robustness_curve")

# attack(x [B, H, W, C], labels [B], epsilon, key) -> AttackResult
Attack = Callable[[jax.Array, jax.Array, float, jax.Array], core.AttackResult]

ATTACKS = ("fgsm", "bim", "pgd")


def make_attack(name: str, f: core.ModelFn, meta: meta_lib.ModelMeta, **options) -> Attack:
  """An attack as ``attack(x, labels, epsilon, key) -> AttackResult``.

  Args:
    name: ``"fgsm"``, ``"bim"`` or ``"pgd"``.
    f: model function ``logits = f(x)``.
    meta: the model's meta (units and box).
    **options: keyword options of :func:`~jaxviz.robustness.fast_gradient.fgsm`,
      :func:`~jaxviz.robustness.projected_gradient.bim` or
      :func:`~jaxviz.robustness.projected_gradient.pgd`
      (``steps``, ``restarts``, ``norm``, ``loss``, ``step_size``, ...).

  Raises:
    ValueError: unknown attack name (lists the known ones).
  """
  if name == "fgsm":
    return lambda x, labels, epsilon, key: fast_gradient.fgsm(
        f, x, labels, meta=meta, epsilon=epsilon, **options)
  if name == "bim":
    return lambda x, labels, epsilon, key: projected_gradient.bim(
        f, x, labels, meta=meta, epsilon=epsilon, **options)
  if name == "pgd":
    return lambda x, labels, epsilon, key: projected_gradient.pgd(
        f, x, labels, meta=meta, epsilon=epsilon, key=key, **options)
  raise ValueError(f"Unknown attack {name!r}; expected one of {ATTACKS}.")


@dataclasses.dataclass(frozen=True)
class RobustnessCurve:
  """Per-example outcomes of one attack over a sweep of epsilons (numpy arrays).

  Attributes:
    epsilons: [E] the sweep, ascending, pixel units.
    labels: [N] the true labels (logit indices).
    success: [E, N] bool, the attack succeeded (untargeted: misclassified).
    predictions: [E, N] the adversarial predictions (logit indices).
    confidence: [E, N] the softmax probability of each adversarial prediction.
    loss: [E, N] the attack loss at each adversarial example.
    norm: [E, N] each perturbation's norm in pixel units.
  """

  epsilons: np.ndarray
  labels: np.ndarray
  success: np.ndarray
  predictions: np.ndarray
  confidence: np.ndarray
  loss: np.ndarray
  norm: np.ndarray

  @property
  def accuracy(self) -> np.ndarray:
    """[E] fraction of examples still classified correctly."""
    return np.mean(self.predictions == self.labels[None], axis=1)

  @property
  def error(self) -> np.ndarray:
    """[E] fraction of misclassified examples (1 - accuracy)."""
    return 1.0 - self.accuracy

  @property
  def mean_confidence(self) -> np.ndarray:
    """[E] mean softmax probability of the adversarial predictions (all examples)."""
    return np.mean(self.confidence, axis=1)

  @property
  def minimal_epsilon(self) -> np.ndarray:
    """[N] the smallest epsilon of the sweep at which the attack succeeds (``inf``: none)."""
    hit = self.success.any(axis=0)
    first = np.argmax(self.success, axis=0)
    return np.where(hit, self.epsilons[first], np.inf)

  def as_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
    """Every field and derived curve as named arrays (for ``write_npz``)."""
    fields = dataclasses.asdict(self)
    fields.update(accuracy=self.accuracy, mean_confidence=self.mean_confidence,
                  minimal_epsilon=self.minimal_epsilon)
    return {prefix + name: np.asarray(value) for name, value in fields.items()}


@jax.jit
def _prediction_and_confidence(logits):
  probs = jax.nn.softmax(logits, axis=-1)
  return jnp.argmax(logits, axis=-1), jnp.max(probs, axis=-1)


def _check_epsilons(epsilons: Sequence[float]) -> np.ndarray:
  values = [validation.check_non_negative(e, "epsilon") for e in epsilons]
  if not values:
    raise ValueError("robustness_curve needs at least one epsilon.")
  array = np.asarray(values, np.float64)
  if np.any(np.diff(array) <= 0):
    raise ValueError(f"epsilons must be strictly increasing, got {values}.")
  return array


def robustness_curve(attack: Attack, images: np.ndarray, labels: np.ndarray,
                     epsilons: Sequence[float], *, key: jax.Array, batch_size: int = 256,
                     name: str = "attack") -> RobustnessCurve:
  """Runs ``attack`` at every epsilon on every batch of a dataset.

  Args:
    attack: ``attack(x, labels, epsilon, key)``, e.g. from :func:`make_attack`.
    images: [N, H, W, C] clean inputs in the model's input space.
    labels: [N] int true labels (logit indices).
    epsilons: ascending radii in pixel units (0 gives the clean accuracy).
    key: PRNG key; batch ``b`` uses ``fold_in(key, b)`` at every epsilon.
    batch_size: examples per attack call (the last batch is padded).
    name: what to call the run in progress messages.

  Returns:
    A :class:`RobustnessCurve`.

  Raises:
    ValueError: bad images, labels, epsilons, batch size or key (the attack
      checks its own arguments on the first batch).
  """
  validation.check_images(images, name="images")
  validation.check_key(key)
  batch_size = validation.check_positive_int(batch_size, "batch_size")
  eps = _check_epsilons(epsilons)
  labels = np.asarray(labels)
  if labels.shape != (images.shape[0],):
    raise ValueError(f"labels must have shape [N] = ({images.shape[0]},), got {labels.shape}.")
  n = images.shape[0]
  batch_size = min(batch_size, n)
  starts = range(0, n, batch_size)
  fields = {k: np.zeros((len(eps), n), dt) for k, dt in (
      ("success", bool), ("predictions", np.int64), ("confidence", np.float32),
      ("loss", np.float32), ("norm", np.float32))}
  progress = Progress(len(eps) * len(starts), "batches", name=name)
  done = 0
  for index, start in enumerate(starts):
    stop = min(start + batch_size, n)
    x = sharding.pad_batch(images[start:stop], batch_size)
    y = sharding.pad_batch(labels[start:stop], batch_size)
    batch_key = jax.random.fold_in(key, index)
    for e, epsilon in enumerate(eps):
      result = attack(x, y, float(epsilon), batch_key)
      predictions, confidence = _prediction_and_confidence(result.logits)
      values = {"success": result.success, "predictions": predictions,
                "confidence": confidence, "loss": result.loss, "norm": result.norm}
      for field, value in values.items():
        fields[field][e, start:stop] = np.asarray(value)[:stop - start]
      done += 1
      progress.update(done, epsilon=epsilon)
  return RobustnessCurve(epsilons=eps, labels=labels, **fields)

