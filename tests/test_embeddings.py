"""PCA, t-SNE and k-NN class agreement (jaxviz.inspect.embeddings) and their figures."""

import numpy as np
import pytest

from jaxviz.inspect import embeddings
from jaxviz.plotting import inspect_plots


def _clusters(num_per_class=40, dim=10, separation=30.0, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(3, dim)) * separation
  labels = np.repeat(np.arange(3), num_per_class)
  points = centres[labels] + rng.normal(size=(len(labels), dim))
  return points.astype(np.float32), labels


def test_pca_projects_onto_the_top_eigenvectors_with_a_fixed_sign():
  x = np.random.default_rng(1).normal(size=(50, 6)) * np.array([5, 3, 2, 1, 0.5, 0.1])
  ours = embeddings.pca(x, num_components=2)
  centred = x - x.mean(axis=0)
  _, vectors = np.linalg.eigh(centred.T @ centred)
  top = vectors[:, ::-1][:, :2]  # eigenvectors of the two largest eigenvalues
  top *= np.sign(top[np.abs(top).argmax(axis=0), [0, 1]])  # largest loading positive
  np.testing.assert_allclose(ours, centred @ top, rtol=1e-4, atol=1e-4)
  assert ours.dtype == np.float32 and ours[:, 0].var() > ours[:, 1].var()
  with pytest.raises(ValueError, match="num_components must be <= min"):
    embeddings.pca(x, num_components=7)


def test_tsne_keeps_well_separated_clusters_apart():
  points, labels = _clusters()
  emb = embeddings.tsne(points, perplexity=10.0, seed=0, max_iter=500,
                        num_threads=1)
  assert emb.shape == (120, 2) and emb.dtype == np.float32
  assert embeddings.knn_agreement(emb, labels, k=5) == 1.0
  # Same seed, same embedding.
  np.testing.assert_array_equal(emb, embeddings.tsne(points, perplexity=10.0, seed=0,
                                                      max_iter=500, num_threads=1))


def test_tsne_with_too_few_points_for_the_perplexity_is_a_clear_error():
  points, _ = _clusters(num_per_class=10)  # 30 points
  with pytest.raises(ValueError, match=r"perplexity 30.0 needs at least 92 points.*"
                                       r"perplexity < n_samples"):
    embeddings.tsne(points, perplexity=30.0)
  assert embeddings.min_points_for_perplexity(9.0) == 29
  embeddings.tsne(points[:29], perplexity=9.0, max_iter=250, num_threads=1)  # just enough
  with pytest.raises(ValueError, match="NaN"):
    embeddings.tsne(np.full((40, 2), np.nan), perplexity=5.0)


def test_knn_indices_match_brute_force_in_blocks():
  x = np.random.default_rng(2).normal(size=(37, 4)).astype(np.float32)
  ours = embeddings.knn_indices(x, k=3)
  d = ((x[:, None] - x[None]) ** 2).sum(-1)
  np.fill_diagonal(d, np.inf)
  np.testing.assert_array_equal(ours, np.argsort(d, axis=1)[:, :3])


def test_knn_agreement_excludes_the_point_itself_even_with_duplicates():
  points = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [10.0, 0.1]])
  assert embeddings.knn_agreement(points, np.array([0, 1, 2, 2]), k=1) == 0.5
  assert embeddings.knn_agreement(points, np.array([0, 0, 1, 1]), k=1) == 1.0
  # k=2: each point has one same-class neighbour and one from the other pair.
  assert embeddings.knn_agreement(points, np.array([0, 0, 1, 1]), k=2) == 0.5


def test_knn_agreement_bad_input():
  with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\)"):
    embeddings.knn_agreement(np.zeros((3, 2)), np.zeros(3), k=3)
  with pytest.raises(ValueError, match="labels must have shape"):
    embeddings.knn_agreement(np.zeros((3, 2)), np.zeros(4), k=1)
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    embeddings.knn_agreement(np.zeros((3,)), np.zeros(3), k=1)


def test_flatten_features():
  assert embeddings.flatten_features(np.zeros((5, 2, 3, 4))).shape == (5, 24)
  with pytest.raises(ValueError, match="feature axis"):
    embeddings.flatten_features(np.zeros(5))


def test_embedding_figure_colours_by_class_with_a_legend_of_names():
  points, labels = _clusters(num_per_class=5)
  fig = inspect_plots.embedding_figure({"A": points[:, :2], "B": points[:, 2:4]}, labels,
                                       ["shirt", "bag", "boot"],
                                       axis_names={"A": ("PCA 1", "PCA 2")})
  assert [t.get_text() for t in fig.legends[0].get_texts()] == ["shirt", "bag", "boot"]
  ax = fig.axes[0]
  assert ax.get_title() == "A" and ax.get_xlabel() == "PCA 1"
  np.testing.assert_allclose(ax.collections[1].get_offsets(), points[labels == 1, :2])
  assert fig.axes[1].get_xlabel() == "dim 1"


def test_mosaic_places_thumbnails_at_their_positions_without_overlap():
  points = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
  thumbs = np.stack([np.full((2, 2, 1), v) for v in (0.1, 0.2, 0.3, 0.4)])
  canvas = inspect_plots.mosaic_canvas(points, thumbs, np.array([0, 1, 1, 2]), num_classes=3,
                                       grid=2, border=1)
  assert canvas.shape == (8, 8, 3)
  # (0, 0) -> bottom-left cell, (1, 1) -> top-right (one of the two duplicates), (0, 1) -> top-left.
  np.testing.assert_allclose(canvas[5:7, 1:3], 0.1)
  assert np.allclose(canvas[1:3, 5:7], 0.2) or np.allclose(canvas[1:3, 5:7], 0.3)
  np.testing.assert_allclose(canvas[1:3, 1:3], 0.4)
  np.testing.assert_allclose(canvas[4:8, 4:8], 1.0)  # empty cell stays white
  tab10 = np.asarray(inspect_plots.common.colormap("tab10").colors)
  np.testing.assert_allclose(canvas[0, 0], tab10[2])  # class-coloured frame
