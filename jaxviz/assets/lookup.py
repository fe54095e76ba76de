"""Finding assets (weights, datasets) on disk.

Lookup order (see DESIGN.md): an explicit path; ``$JAXVIZ_DATA_DIR``; the user
cache ``~/.cache/jaxviz`` (or ``$XDG_CACHE_HOME/jaxviz``). Nothing downloads
here: a missing asset raises :class:`AssetNotFoundError` naming the file, where
it comes from and the command that fetches it.
"""

from __future__ import annotations

import os
import pathlib

from jaxviz.assets import sources

__all__ = ("ASSET_SOURCES", "AssetNotFoundError", "DATA_DIR_ENV", "cache_dir", "find_asset",
           "search_roots")

DATA_DIR_ENV = "JAXVIZ_DATA_DIR"

# Where each asset folder comes from, for error messages.
ASSET_SOURCES = {
    **{name: folder.origin for name, folder in sources.FOLDERS.items()},
    "vgg": ("torchvision's vgg16-397923af.pth / vgg19-dcbb9e9d.pth converted with "
            "safetensors.torch.save_file, or timm's vgg16.tv_in1k model.safetensors"),
}


class AssetNotFoundError(FileNotFoundError):
  """An asset is not on disk; the message names it and where to get it."""


def cache_dir() -> pathlib.Path:
  """The user cache, ``$XDG_CACHE_HOME/jaxviz`` (default ``~/.cache/jaxviz``)."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return pathlib.Path(base) / "jaxviz"


def search_roots() -> list[pathlib.Path]:
  """Directories searched for assets, in order."""
  roots = []
  if os.environ.get(DATA_DIR_ENV):
    roots.append(pathlib.Path(os.environ[DATA_DIR_ENV]).expanduser())
  roots.append(cache_dir())
  return roots


def find_asset(relpath: str, explicit: str | os.PathLike | None = None) -> pathlib.Path:
  """Returns the path of an asset.

  Args:
    relpath: path relative to a data root, e.g.
      ``"mobilenet_imagenet/mobilenet_v2_1.0_224_quant.tflite"``.
    explicit: a path given by the user (config); used as is when set.

  Raises:
    AssetNotFoundError: with the searched places, the asset's source and, for
      a fetchable folder, the fetch command.
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
  fetch = (f"Run `python -m jaxviz.assets fetch {folder}` to download it, or set "
           if folder in sources.FOLDERS else "Set ")
  raise AssetNotFoundError(
      f"Asset {relpath!r} not found. Searched: {', '.join(searched)}. "
      f"{fetch}{DATA_DIR_ENV} to a folder containing {relpath}, or pass its path "
      f"explicitly. It comes from {source}.")
