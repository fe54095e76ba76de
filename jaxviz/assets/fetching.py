"""Fetching asset folders from their public sources into the asset root.

The root is ``$JAXVIZ_DATA_DIR`` when set, else the user cache
(``~/.cache/jaxviz``); each folder is laid out as in the project's shared data
folder. A folder's missing or invalid files are made in a staging folder
``<root>/.jaxviz-fetch/<folder>/`` (downloads, archive members, derived
files, each verified against the SHA-256 shipped in the package) and moved
into ``<root>/<folder>/`` only when all of them are ready, so a failed fetch
never leaves a partly filled asset folder; the staging folder keeps what a
rerun can reuse (verified files, the ``.part`` of an interrupted download)
and nothing unverified under a final name.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import shutil
import zipfile
from typing import Callable, Iterable, Mapping

from jaxviz import workdir
from jaxviz.assets import checksums
from jaxviz.assets import download as download_lib
from jaxviz.assets import lookup
from jaxviz.assets import sources

__all__ = ("FolderResult", "STAGING_DIR", "check_names", "fetch", "fetch_folder", "fetch_root")

STAGING_DIR = ".jaxviz-fetch"
_DOWNLOADS = ".downloads"
_MAX_NAMES_SHOWN = 5


@dataclasses.dataclass(frozen=True)
class FolderResult:
  """The outcome for one asset folder.

  Attributes:
    name: the folder name.
    status: ``"fetched"``, ``"already present"`` or ``"failed"``.
    path: the folder's path under the root.
    files: files made by this fetch.
    num_bytes: their total size.
    error: why it failed (None otherwise).
  """

  name: str
  status: str
  path: pathlib.Path
  files: int = 0
  num_bytes: int = 0
  error: download_lib.FetchError | None = None

  def line(self) -> str:
    """The one-line report, e.g. ``style_images: fetched 5 files (1.2 MB) into ...``."""
    if self.status == "fetched":
      return (f"{self.name}: fetched {self.files} files ({self.num_bytes / 1e6:.1f} MB) into "
              f"{self.path}")
    if self.status == "already present":
      return f"{self.name}: already present in {self.path}"
    return f"{self.name}: failed: {self.error}"


def fetch_root() -> pathlib.Path:
  """Where fetched assets go: ``$JAXVIZ_DATA_DIR`` when set, else the user cache."""
  return lookup.search_roots()[0]


def check_names(names: Iterable[str] | None,
                folders: Mapping[str, sources.AssetFolder]) -> list[str]:
  """The requested folder names (all when ``names`` is empty), validated.

  Raises:
    ValueError: an unknown name; the message lists the known ones.
  """
  names = list(names or folders)
  unknown = [n for n in names if n not in folders]
  if unknown:
    notes = "".join(f" ({n} is not fetched by this command; it comes from "
                    f"{lookup.ASSET_SOURCES[n]})" for n in unknown if n in lookup.ASSET_SOURCES)
    raise ValueError(f"Unknown asset folder(s) {unknown}; known: {', '.join(folders)}.{notes}")
  return list(dict.fromkeys(names))


def _check_writable(root: pathlib.Path, staging: pathlib.Path) -> None:
  """Raises FetchError unless files can be made under ``root``.

  A folder without any write permission bit counts as read-only, also for the
  superuser (who could write into it anyway).
  """
  try:
    if root.is_dir() and not root.stat().st_mode & 0o222:
      raise PermissionError(13, "the folder is read-only")
    staging.mkdir(parents=True, exist_ok=True)
    workdir.write_bytes(staging / ".write-test", b"")
    (staging / ".write-test").unlink()
  except OSError as e:
    raise download_lib.FetchError(
        f"cannot write to the asset folder {root} ({e.strerror or e}); set "
        f"{lookup.DATA_DIR_ENV} to a writable folder (or pass --dir).") from e


class _Maker:
  """Makes the missing files of one folder in its staging folder."""

  def __init__(self, folder: sources.AssetFolder, final: pathlib.Path, staging: pathlib.Path,
               mirror: str | None):
    self.folder, self.final, self.staging, self.mirror = folder, final, staging, mirror
    self.sums = folder.file_sums()
    self._downloads: dict[str, pathlib.Path] = {}  # url -> verified intermediate download

  def valid(self, path: pathlib.Path, relpath: str) -> bool:
    return checksums.is_valid(path, self.sums[relpath], self.folder.content_sum(relpath))

  def input_path(self, relpath: str) -> pathlib.Path:
    for path in (self.staging / relpath, self.final / relpath):
      if self.valid(path, relpath):
        return path
    raise download_lib.FetchError(f"{self.folder.name}/{relpath} (needed to derive another "
                                  "file) could not be fetched.")

  def fetch_download(self, item: sources.Download) -> pathlib.Path:
    if item.url not in self._downloads:
      dest = self.staging / _DOWNLOADS / item.name
      sha = item.expected_sha256()
      if not (dest.is_file() and checksums.sha256_file(dest) == sha):
        dest.parent.mkdir(parents=True, exist_ok=True)
        download_lib.download(download_lib.mirrored(item.url, self.mirror), dest, sha,
                              label=f"{self.folder.name}: {item.name}")
      self._downloads[item.url] = dest
    return self._downloads[item.url]

  def write_checked(self, relpath: str, data: bytes, origin: str) -> None:
    """Writes ``data`` to the staging file, only if it verifies."""
    with workdir.atomic_path(self.staging / relpath) as tmp:
      tmp.write_bytes(data)
      if not self.valid(tmp, relpath):
        raise download_lib.ChecksumError(
            f"{self.folder.name}/{relpath} made from {origin} has SHA-256 "
            f"{checksums.sha256_file(tmp)}, expected {self.sums[relpath]}; nothing was kept.")

  def make(self, relpath: str) -> None:
    if self.valid(self.staging / relpath, relpath):
      return  # verified by an earlier, interrupted fetch
    source = self.folder.source_of(relpath)
    label = f"{self.folder.name}/{relpath}"
    if isinstance(source, sources.Remote):
      dest = self.staging / relpath
      dest.parent.mkdir(parents=True, exist_ok=True)
      download_lib.download(download_lib.mirrored(source.url, self.mirror), dest,
                            self.sums[relpath], label=label)
    elif isinstance(source, sources.ZipMember):
      archive = self.fetch_download(source.archive)
      try:
        with zipfile.ZipFile(archive) as z:
          data = z.read(source.member)
      except (zipfile.BadZipFile, KeyError) as e:
        raise download_lib.FetchError(f"{label}: cannot read {source.member} from "
                                      f"{source.archive.url} ({e}).") from e
      self.write_checked(relpath, data, f"{source.member} of {source.archive.url}")
    else:
      paths = [self.fetch_download(i) if isinstance(i, sources.Download) else self.input_path(i)
               for i in source.inputs]
      try:
        data = source.make(paths)
      except ValueError as e:
        raise download_lib.FetchError(f"{label}: {e}") from e
      self.write_checked(relpath, data, source.how)

  def describe(self, relpath: str) -> str:
    source = self.folder.source_of(relpath)
    if isinstance(source, sources.Remote):
      return source.url
    if isinstance(source, sources.ZipMember):
      return f"{source.member} in {source.archive.url}"
    return source.how


def _source_text(maker: _Maker) -> str:
  folder = maker.folder
  lines = [folder.description, f"Source: {folder.origin}", f"License: {folder.license}",
           f"Fetched by `python -m jaxviz.assets fetch {folder.name}`; every file is checked "
           "against the SHA-256 list shipped in jaxviz/assets/checksums (see SHA256SUMS).",
           "Files:"]
  lines += [f"  {rel} <- {maker.describe(rel)}" for rel in sorted(maker.sums)]
  return "\n".join(lines) + "\n"


def _error_summary(folder: str, errors: list[tuple[str, download_lib.FetchError]]
                   ) -> download_lib.FetchError:
  """One error for a folder: the first in full, the other files by name."""
  first = errors[0][1]
  if len(errors) == 1:
    return first
  others = [rel for rel, _ in errors[1:]]
  names = ", ".join(others[:_MAX_NAMES_SHOWN])
  if len(others) > _MAX_NAMES_SHOWN:
    names += f" and {len(others) - _MAX_NAMES_SHOWN} more"
  cls = (download_lib.NetworkError
         if all(isinstance(e, download_lib.NetworkError) for _, e in errors)
         else download_lib.FetchError)
  return cls(f"{len(errors)} files of {folder} could not be made: {first} Also failed: {names}.")


def _remove_empty_dirs(top: pathlib.Path) -> None:
  """Removes ``top`` and the folders under it that hold no file."""
  for directory, _, _ in sorted(os.walk(top), key=lambda d: -len(d[0])):
    try:
      os.rmdir(directory)
    except OSError:
      pass  # not empty


def fetch_folder(folder: sources.AssetFolder, root: pathlib.Path, *, mirror: str | None = None,
                 workers: int = 4) -> FolderResult:
  """Fetches the missing or invalid files of one asset folder (see the module doc)."""
  final = root / folder.name
  staging = root / STAGING_DIR / folder.name
  maker = _Maker(folder, final, staging, mirror)
  missing = [rel for rel in sorted(maker.sums) if not maker.valid(final / rel, rel)]
  if not missing:
    return FolderResult(folder.name, "already present", final)
  try:
    _check_writable(root, staging)
  except download_lib.FetchError as e:
    return FolderResult(folder.name, "failed", final, error=e)
  errors = []
  # Downloads first (in parallel), then archive members and derived files, which read them.
  remote = [r for r in missing if isinstance(folder.source_of(r), sources.Remote)]
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    futures = {rel: pool.submit(maker.make, rel) for rel in remote}
    for rel, future in futures.items():
      try:
        future.result()
      except download_lib.FetchError as e:
        errors.append((rel, e))
  for rel in missing:
    if rel in remote:
      continue
    try:
      maker.make(rel)
    except download_lib.FetchError as e:
      errors.append((rel, e))
  if errors:
    _remove_empty_dirs(staging.parent)
    return FolderResult(folder.name, "failed", final, error=_error_summary(folder.name, errors))
  num_bytes = 0
  for rel in missing:
    (final / rel).parent.mkdir(parents=True, exist_ok=True)
    num_bytes += (staging / rel).stat().st_size
    os.replace(staging / rel, final / rel)
  sums = "".join(f"{checksums.sha256_file(final / rel)}  {rel}\n" for rel in sorted(maker.sums))
  workdir.write_bytes(final / "SHA256SUMS", sums.encode())
  if not (final / "SOURCE.txt").exists():
    workdir.write_bytes(final / "SOURCE.txt", _source_text(maker).encode())
  shutil.rmtree(staging)
  _remove_empty_dirs(staging.parent)
  return FolderResult(folder.name, "fetched", final, files=len(missing), num_bytes=num_bytes)


def fetch(names: Iterable[str] | None = None, *, root: str | os.PathLike | None = None,
          mirror: str | None = None, folders: Mapping[str, sources.AssetFolder] | None = None,
          on_result: Callable[[FolderResult], None] | None = None) -> list[FolderResult]:
  """Fetches asset folders from their public sources.

  Args:
    names: folder names (default: all), e.g. ``["mobilenet_imagenet"]``.
    root: the asset root (default :func:`fetch_root`).
    mirror: base URL of a mirror laid out as ``<mirror>/<host>/<path>``
      (default ``$JAXVIZ_ASSET_MIRROR``; none: the public sources).
    folders: the source table (default :data:`jaxviz.assets.sources.FOLDERS`).
    on_result: called with each folder's result as soon as it is known.

  Returns:
    One :class:`FolderResult` per folder, in order; a failure in one folder
    does not stop the others.

  Raises:
    ValueError: an unknown folder name (before anything is fetched).
  """
  folders = sources.FOLDERS if folders is None else folders
  names = check_names(names, folders)
  root = pathlib.Path(root).expanduser() if root is not None else fetch_root()
  mirror = mirror if mirror is not None else os.environ.get(download_lib.MIRROR_ENV)
  results = []
  for name in names:
    result = fetch_folder(folders[name], root, mirror=mirror)
    results.append(result)
    if on_result:
      on_result(result)
  if any(r.status == "fetched" for r in results) and not (root / "INDEX.txt").exists():
    index = "".join(f"  {f.name + '/':26s} {f.description}\n" for f in folders.values())
    workdir.write_bytes(root / "INDEX.txt", (
        "Asset folders of jaxviz, fetched by `python -m jaxviz.assets fetch` (each has "
        f"SOURCE.txt with its origin and license, and SHA256SUMS).\n{index}").encode())
  return results
