"""What an asset file must hash to: the SHA-256 lists shipped in the package.

``checksums/<folder>.sha256`` lists, in ``sha256sum`` format, the SHA-256 of
every file of an asset folder; ``checksums/downloads.sha256`` those of the
intermediate downloads that are not kept (the foolbox wheel, a source file a
table is parsed from), keyed by URL; ``checksums/content.sha256`` the digests
of the *decoded content* of files whose bytes may legitimately differ:
``.npz`` (derived here; the zip bytes depend on the numpy/zlib version) and
``.gz`` (a Debian repack of Fashion-MNIST differs from the release only in
the gzip header). A file is valid when its bytes match, or, for those two
formats, when its content digest matches.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.resources
import os
import pathlib
import zipfile

__all__ = ("content_digest", "content_sums", "download_sums", "folder_sums", "is_valid",
           "parse_sums", "sha256_file")

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
  """Hex SHA-256 of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(_CHUNK), b""):
      digest.update(block)
  return digest.hexdigest()


def _npz_digest(path: pathlib.Path) -> str:
  """SHA-256 over each array's name, dtype, shape and C-order bytes, in file order."""
  import numpy as np  # pylint: disable=g-import-not-at-top

  digest = hashlib.sha256()
  with np.load(path, allow_pickle=False) as data:
    for key in data.files:
      array = np.ascontiguousarray(data[key])
      digest.update(f"{key}\0{array.dtype.str}\0{array.shape}\0".encode())
      digest.update(array.tobytes())
  return digest.hexdigest()


def content_digest(path: str | os.PathLike) -> str | None:
  """Digest of the decoded content of an ``.npz`` or ``.gz`` file, else None.

  Raises:
    ValueError: the file is not a readable npz/gzip.
  """
  path = pathlib.Path(path)
  try:
    if path.suffix == ".npz":
      return _npz_digest(path)
    if path.suffix == ".gz":
      digest = hashlib.sha256()
      with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
          digest.update(block)
      return digest.hexdigest()
  except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f"{path} is not a readable {path.suffix} file ({e}).") from e
  return None


def parse_sums(text: str, origin: str) -> dict[str, str]:
  """``{name: sha256}`` from ``sha256sum`` lines (``#`` comments allowed)."""
  sums = {}
  for number, line in enumerate(text.splitlines(), 1):
    if not line.strip() or line.startswith("#"):
      continue
    digest, _, name = line.partition("  ")
    if len(digest) != 64 or not name:
      raise ValueError(f"{origin}:{number}: expected '<sha256>  <name>', got {line!r}.")
    sums[name.lstrip("*")] = digest.lower()
  return sums


def _shipped(name: str) -> dict[str, str]:
  resource = importlib.resources.files("jaxviz.assets") / "checksums" / name
  return parse_sums(resource.read_text(), f"jaxviz/assets/checksums/{name}")


@functools.cache
def folder_sums(folder: str) -> dict[str, str]:
  """``{relpath: sha256}`` of an asset folder's files, as shipped in the package."""
  return _shipped(f"{folder}.sha256")


@functools.cache
def download_sums() -> dict[str, str]:
  """``{url: sha256}`` of the intermediate downloads (archives, parsed sources)."""
  return _shipped("downloads.sha256")


@functools.cache
def content_sums() -> dict[str, str]:
  """``{folder/relpath: content digest}`` (see :func:`content_digest`)."""
  return _shipped("content.sha256")


def is_valid(path: pathlib.Path, sha256: str, content_sha256: str | None = None) -> bool:
  """Whether ``path`` exists and matches ``sha256`` (or its content digest)."""
  if not path.is_file():
    return False
  if sha256_file(path) == sha256:
    return True
  if content_sha256 is None:
    return False
  try:
    return content_digest(path) == content_sha256
  except ValueError:
    return False
