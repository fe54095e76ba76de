"""2-D embeddings of features (PCA, t-SNE) and how well they keep classes together.

t-SNE: van der Maaten & Hinton 2008, "Visualizing Data using t-SNE",
https://www.jmlr.org/papers/v9/vandermaaten08a.html. PCA, t-SNE and the
nearest-neighbour search are scikit-learn's (host-side numpy work on a few
thousand feature vectors; nothing here is worth a compiled program). The
k-nearest-neighbour class agreement measures how well a space (raw features
or a 2-D embedding) keeps same-class points together: 1 when every point's
neighbours share its class, about 1/K for K balanced classes placed at
random.
"""

from __future__ import annotations

import numpy as np
from sklearn import decomposition
from sklearn import manifold
from sklearn import neighbors
import threadpoolctl

from jaxviz import validation

__all__ = ("flatten_features", "knn_agreement", "knn_indices", "min_points_for_perplexity", "pca",
           "tsne")


def _check_points(points, name: str = "points") -> None:
  shape = np.shape(points)
  if len(shape) != 2 or shape[0] < 2:
    raise ValueError(f"{name} must be an array [N, D] with N >= 2, got shape {tuple(shape)}.")


def flatten_features(features) -> np.ndarray:
  """[N, ...] -> float32 [N, D]: one feature vector per example."""
  features = np.asarray(features, np.float32)
  if features.ndim < 2:
    raise ValueError(f"features must be [N, ...] with a feature axis, got shape {features.shape}.")
  return features.reshape(features.shape[0], -1)


def pca(features, num_components: int = 2) -> np.ndarray:
  """Projects centred features onto their top principal components (scikit-learn).

  Args:
    features: [N, D].
    num_components: output dimension (<= min(N, D)).

  Returns:
    float32 [N, num_components], columns in order of decreasing variance;
    each component's sign is fixed so that its largest-magnitude loading is
    positive (scikit-learn's ``svd_flip``), so the result is deterministic.

  Raises:
    ValueError: features not [N, D] or non-finite, or too many components.
  """
  _check_points(features, "features")
  x = np.asarray(features, np.float64)
  validation.check_finite(x, "features")
  num_components = validation.check_positive_int(num_components, "num_components")
  if num_components > min(x.shape):
    raise ValueError(f"num_components must be <= min(N, D) = {min(x.shape)}, got "
                     f"{num_components}.")
  return decomposition.PCA(n_components=num_components,
                           svd_solver="full").fit_transform(x).astype(np.float32)


def min_points_for_perplexity(perplexity: float) -> int:
  """Fewest points t-SNE accepts here for ``perplexity``: ``floor(3 * perplexity) + 2``.

  scikit-learn only requires ``perplexity < n_samples``, but it builds each
  point's affinities from its ``3 * perplexity + 1`` nearest neighbours. With
  fewer other points than that, every neighbourhood is the whole set and the
  target perplexity cannot be met, so the embedding is meaningless.
  """
  return int(np.floor(3 * perplexity)) + 2


def tsne(features, *, perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000,
         num_threads: int | None = None) -> np.ndarray:
  """2-D t-SNE embedding (scikit-learn, PCA initialisation).

  Args:
    features: [N, D] (converted to float64 numpy).
    perplexity: effective number of neighbours (> 0).
    seed: random state of the optimisation (same seed, same embedding).
    max_iter: optimisation steps (scikit-learn's minimum is 250; its first 250
      are the early-exaggeration phase).
    num_threads: OpenMP threads of scikit-learn's Barnes-Hut gradient; None
      keeps its default (all cores). 1 is much faster for a few hundred
      points or on a busy machine, where spinning threads compete.

  Returns:
    float32 [N, 2].

  Raises:
    ValueError: features not [N, D], non-finite values, or too few points for
      the perplexity (fewer than :func:`min_points_for_perplexity`).
  """
  _check_points(features, "features")
  x = np.asarray(features, np.float64)
  validation.check_finite(x, "features")
  if not perplexity > 0:
    raise ValueError(f"perplexity must be > 0, got {perplexity!r}.")
  need = min_points_for_perplexity(perplexity)
  if len(x) < need:
    raise ValueError(
        f"t-SNE with perplexity {perplexity} needs at least {need} points (3 * perplexity + 1 "
        f"neighbours per point, plus the point), got {len(x)}. scikit-learn itself requires "
        f"perplexity < n_samples, but below this every neighbourhood is the whole set. Use "
        f"perplexity <= {max((len(x) - 2) / 3, 0):.1f} or more points.")
  model = manifold.TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                        max_iter=max_iter)
  with threadpoolctl.threadpool_limits(limits=num_threads):
    return model.fit_transform(x).astype(np.float32)


def knn_indices(points, k: int = 5) -> np.ndarray:
  """Indices of each point's k nearest other points (Euclidean, scikit-learn).

  A point is never its own neighbour, even when it has exact duplicates
  (those count as neighbours at distance 0).

  Args:
    points: [N, D].
    k: neighbours per point (1 <= k < N).

  Returns:
    int64 [N, k], nearest first.
  """
  x = np.asarray(points, np.float64)
  search = neighbors.NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x)
  return search.kneighbors(return_distance=False)  # No query: each point's own index is left out.


def knn_agreement(points: jax.typing.ArrayLike, labels: jax.typing.ArrayLike, k: int = 5) -> float:
  """Mean fraction of each point's k nearest other points that share its label.

  Args:
    points: [N, D] (raw features or a 2-D embedding).
    labels: int [N].
    k: neighbours per point (1 <= k < N); the point itself is excluded.

  Returns:
    A float in [0, 1].

  Raises:
    ValueError: bad shapes, or k not in [1, N).
  """
  _check_points(points)
  labels = np.asarray(labels)
  n = np.shape(points)[0]
  if labels.shape != (n,):
    raise ValueError(f"labels must have shape [N] = ({n},), got {labels.shape}.")
  if validation.check_positive_int(k, "k") >= n:
    raise ValueError(f"k must be an int in [1, {n}) (other points available), got {k!r}.")
  nbrs = knn_indices(points, k=int(k))
  return float(np.mean(labels[nbrs] == labels[:, None]))
