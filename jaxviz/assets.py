"""Finding assets (weights, datasets) on disk, offline-first.

Lookup order (see DESIGN.md): an explicit path; ``$JAXVIZ_DATA_DIR``; the user
cache ``~/.cache/jaxviz`` (or ``$XDG_CACHE_HOME/jaxviz``). Nothing is
downloaded: a missing asset raises :class:`AssetNotFoundError` naming the file
and where to get it.
"""

from __future__ import annotations

import os
import pathlib

# Where each shared asset folder comes from, for error messages.
ASSET_SOURCES = {
    "mobilenet_imagenet": (
        "the TFLite models at the root of the public GitHub repository "
        "google-coral/test_data (mobilenet_v2_1.0_224_quant.tflite, "
        "mobilenet_v1_0.25_128_quant.tflite, imagenet_labels_1001.txt)"),
    "sample_images_imagenet": "the photos at the root of github.com/google-coral/test_data",
    "foolbox_samples": "the foolbox==3.3.4 wheel on PyPI (foolbox/data/)",
    "mnist_t10k": "the MNIST IDX files (t10k-*-ubyte.gz), e.g. github.com/kelas/mnist",
    "fashion_mnist_t10k": "`apt-get install dataset-fashion-mnist` (Debian) or the Fashion-MNIST release",
    "texture_vs_shape_subset": "github.com/rgeirhos/texture-vs-shape (stimuli/style-transfer-preprocessed-512)",
    "vgg": ("torchvision's vgg16-397923af.pth / vgg19-dcbb9e9d.pth converted with "
            "safetensors.torch.save_file, or timm's vgg16.tv_in1k model.safetensors"),
    "style_images": "github.com/jcjohnson/neural-style (examples/inputs)",
}


class AssetNotFoundError(FileNotFoundError):
  """An asset is not on disk; the message names it and where to get it."""


def cache_dir() -> pathlib.Path:
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return pathlib.Path(base) / "jaxviz"


def search_roots() -> list[pathlib.Path]:
  """Directories searched for assets, in order."""
  roots = []
  if os.environ.get("JAXVIZ_DATA_DIR"):
    roots.append(pathlib.Path(os.environ["JAXVIZ_DATA_DIR"]).expanduser())
  roots.append(cache_dir())
  return roots


def find_asset(relpath: str, explicit: str | os.PathLike | None = None) -> pathlib.Path:
  """Returns the path of an asset.

  Args:
    relpath: path relative to a data root, e.g.
      ``"mobilenet_imagenet/mobilenet_v2_1.0_224_quant.tflite"``.
    explicit: a path given by the user (config); used as is when set.

  Raises:
    AssetNotFoundError: with the searched places and the asset's source.
  """
  if explicit:
    path = pathlib.Path(explicit).expanduser()
    if path.exists():
      return path
    raise AssetNotFoundError(f"{path} does not exist (given explicitly for {relpath!r}).")
  searched = []
  for root in search_roots():
    path = root / relpath
    searched.append(str(path))
    if path.exists():
      return path
  folder = relpath.split("/")[0]
  source = ASSET_SOURCES.get(folder, "the project's shared data folder")
  raise AssetNotFoundError(
      f"Asset {relpath!r} not found. Searched: {', '.join(searched)}. "
      f"Set JAXVIZ_DATA_DIR to a folder containing {relpath}, or pass its path "
      f"explicitly. It comes from {source}.")
