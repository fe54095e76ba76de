"""Assets (weights, photos, datasets): finding them on disk and fetching them.

- Finding (:mod:`jaxviz.assets.lookup`): an explicit path, then
  ``$JAXVIZ_DATA_DIR``, then the user cache ``~/.cache/jaxviz``; nothing
  downloads while looking.
- Fetching (``python -m jaxviz.assets fetch [NAME ...]``,
  :func:`fetch`): every asset folder from its pinned public source
  (:mod:`jaxviz.assets.sources`) into ``$JAXVIZ_DATA_DIR`` or the user cache,
  each file verified against the SHA-256 list shipped in the package
  (:mod:`jaxviz.assets.checksums`); ``$JAXVIZ_ASSET_MIRROR`` serves the same
  files from a mirror.
"""

from jaxviz.assets.download import ChecksumError
from jaxviz.assets.download import FetchError
from jaxviz.assets.download import MIRROR_ENV
from jaxviz.assets.download import NetworkError
from jaxviz.assets.fetching import fetch
from jaxviz.assets.fetching import fetch_root
from jaxviz.assets.fetching import FolderResult
from jaxviz.assets.lookup import ASSET_SOURCES
from jaxviz.assets.lookup import AssetNotFoundError
from jaxviz.assets.lookup import cache_dir
from jaxviz.assets.lookup import DATA_DIR_ENV
from jaxviz.assets.lookup import find_asset
from jaxviz.assets.lookup import search_roots
from jaxviz.assets.sources import FOLDERS

__all__ = ("ASSET_SOURCES", "AssetNotFoundError", "ChecksumError", "DATA_DIR_ENV", "FOLDERS",
           "FetchError", "FolderResult", "MIRROR_ENV", "NetworkError", "cache_dir", "fetch",
           "fetch_root", "find_asset", "search_roots")
