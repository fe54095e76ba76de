"""PCA and t-SNE of raw pixels vs. the trained small CNN's penultimate features.

For N random test images: the raw pixels (``uint8 / 255`` flattened) and the
activations of ``config.layer`` (default ``fc1``, extracted in batched
jitted passes sharded over local devices), each reduced to 2-D with PCA and
t-SNE. The k-nearest-neighbour class agreement of every space tells how
well it keeps classes apart; trained features should beat raw pixels.

python -m experiments.embedding --config=configs/embedding.py --workdir=/tmp/embedding
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from experiments import common
from experiments import inputs
from jaxviz import workdir as wd
from jaxviz.inspect import embeddings
from jaxviz.inspect import features
from jaxviz.plotting import inspect_plots

LOG = logging.getLogger(__name__)


def run(config, workdir: pathlib.Path) -> dict:
  """Writes ``embedding_scatter.png``, two t-SNE mosaics and ``embedding.npz``.

  Metrics: ``knn5_agreement`` = ``{"pixels": {"raw", "tsne"}, "features":
  {"raw", "tsne"}}`` (k = ``config.knn_k``, 5 by default), the same for PCA
  in ``knn5_agreement_pca``, ``num_images``, ``layer``, ``feature_dim``.
  """
  workdir = pathlib.Path(workdir)
  model, params, meta = inputs.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                   workdir, "cnn")
  test = inputs.load_test_split(config.cnn_train)
  if not embeddings.min_points_for_perplexity(config.perplexity) <= config.num_images <= len(test):
    raise ValueError(
        f"num_images must be in [{embeddings.min_points_for_perplexity(config.perplexity)}, "
        f"{len(test)}] (t-SNE with perplexity {config.perplexity} .. the test-set size), got "
        f"{config.num_images}.")
  rng = np.random.default_rng(config.seed)
  indices = np.sort(rng.choice(len(test), config.num_images, replace=False))
  images, labels = test.images[indices], test.labels[indices]

  spaces = {
      "pixels": images.reshape(len(images), -1).astype(np.float32) / 255.0,
      "features": embeddings.flatten_features(features.extract_features(
          model, {"params": params}, images, config.layer, batch_size=config.batch_size,
          preprocess=meta.preprocess)),
  }
  knn, knn_pca, arrays, panels, axis_names = {}, {}, {}, {}, {}
  for name, x in spaces.items():
    x = np.asarray(x)
    reduced = {"pca": embeddings.pca(x),
               "tsne": embeddings.tsne(x, perplexity=config.perplexity, seed=config.seed,
                                       max_iter=config.tsne_max_iter,
                                       num_threads=config.tsne_threads or None)}
    knn[name] = {"raw": embeddings.knn_agreement(x, labels, k=config.knn_k),
                 "tsne": embeddings.knn_agreement(reduced["tsne"], labels, k=config.knn_k)}
    knn_pca[name] = embeddings.knn_agreement(reduced["pca"], labels, k=config.knn_k)
    what = "raw pixels" if name == "pixels" else f"CNN {config.layer} features"
    for method, label in (("pca", "PCA"), ("tsne", "t-SNE")):
      score = knn_pca[name] if method == "pca" else knn[name]["tsne"]
      title = f"{what} [{x.shape[1]}-d], {label}\n{config.knn_k}-NN agreement {score:.3f}"
      panels[title] = reduced[method]
      axis_names[title] = (f"{label} 1", f"{label} 2")
      arrays[f"{name}_{method}"] = reduced[method]
    LOG.info("%s: %d-NN agreement raw %.3f, t-SNE %.3f, PCA %.3f", name, config.knn_k,
             knn[name]["raw"], knn[name]["tsne"], knn_pca[name])
    fig = inspect_plots.mosaic_figure(
        reduced["tsne"], images / 255.0, labels, test.class_names, grid=config.mosaic_grid,
        title=f"t-SNE of {what}: test images at their embedded positions "
        f"({config.knn_k}-NN agreement {knn[name]['tsne']:.3f})")
    wd.write_figure(workdir / f"mosaic_{name}_tsne.png", fig)

  fig = inspect_plots.embedding_figure(
      panels, labels, test.class_names, axis_names=axis_names,
      title=f"{config.num_images} {test.name} images: raw pixels vs. trained CNN features "
      f"(raw-space {config.knn_k}-NN agreement: pixels {knn['pixels']['raw']:.3f}, "
      f"features {knn['features']['raw']:.3f})")
  wd.write_figure(workdir / "embedding_scatter.png", fig)
  wd.write_npz(workdir / "embedding.npz", indices=indices, labels=labels,
               features=spaces["features"], **arrays)
  return {
      "knn5_agreement": knn,
      "knn5_agreement_pca": knn_pca,
      "knn_k": config.knn_k,
      "num_images": int(config.num_images),
      "layer": config.layer,
      "feature_dim": int(spaces["features"].shape[1]),
  }


if __name__ == "__main__":
  common.main(run)
