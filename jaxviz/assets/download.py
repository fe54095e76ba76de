"""One HTTP download, standard library only: resumable, verified, atomic.

The bytes go to ``<dest>.part``; an interrupted transfer continues from the
part's size with an HTTP ``Range`` request (in the same call, and in a later
one); the finished part is checked against its SHA-256 and only then renamed
to ``dest``. A checksum mismatch, an HTTP error or an HTML page where a data
file was expected deletes the part and raises :class:`FetchError`.
"""

from __future__ import annotations

import http.client
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request

from jaxviz import progress
from jaxviz.assets import checksums

__all__ = ("ChecksumError", "FetchError", "MIRROR_ENV", "NetworkError", "download",
           "mirrored")

MIRROR_ENV = "JAXVIZ_ASSET_MIRROR"
USER_AGENT = "jaxviz-assets/0.1 (python urllib)"
_CHUNK = 1 << 16
# Downloads of at least this size log their progress (bytes, rate, ETA).
_PROGRESS_MIN_BYTES = 1 << 20


class FetchError(RuntimeError):
  """An asset could not be fetched; the message names the file and the URL."""


class NetworkError(FetchError):
  """The server could not be reached or the transfer broke off (offline?)."""


class ChecksumError(FetchError):
  """The downloaded bytes are not the expected ones."""


def mirrored(url: str, mirror: str | None) -> str:
  """``url`` served by ``mirror``: ``<mirror>/<host>/<path>``; ``url`` when no mirror.

  A mirror holds the public files laid out by host and path, e.g.
  ``<mirror>/raw.githubusercontent.com/google-coral/test_data/<commit>/cat.bmp``.
  """
  if not mirror:
    return url
  parts = urllib.parse.urlsplit(url)
  return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def _looks_like_html(head: bytes) -> bool:
  start = head.lstrip()[:15].lower()
  return start.startswith(b"<!doctype html") or start.startswith(b"<html")


def _open(url: str, offset: int, timeout: float):
  headers = {"User-Agent": USER_AGENT}
  if offset:
    headers["Range"] = f"bytes={offset}-"
  return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _transfer(url: str, part: pathlib.Path, label: str, timeout: float) -> None:
  """Appends the rest of ``url`` to ``part`` (restarting when the server ignores Range).

  Raises:
    OSError, http.client.HTTPException: the connection failed or broke off
      (``part`` keeps what arrived).
    FetchError: an HTTP error status, or an HTML page instead of the file.
  """
  offset = part.stat().st_size if part.exists() else 0
  try:
    response = _open(url, offset, timeout)
  except urllib.error.HTTPError as e:
    if e.code == 416 and offset:  # the part already holds the whole file
      return
    part.unlink(missing_ok=True)
    raise FetchError(f"HTTP {e.code} {e.reason} for {url}") from e
  with response:
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "text/html":
      part.unlink(missing_ok=True)
      raise FetchError(f"{url} returned an HTML page (Content-Type text/html) instead of "
                       f"{label}; the server or mirror does not hold the file there.")
    resumed = response.status == 206 and (response.headers.get("Content-Range", "")
                                          .startswith(f"bytes {offset}-"))
    if not resumed:
      offset = 0  # a full response: start the part over
    length = response.headers.get("Content-Length")
    total = offset + int(length) if length and length.isdigit() else None
    reporter = (progress.Progress(total, "bytes", name=label, start=offset, every_seconds=5.0)
                if total is not None and total >= _PROGRESS_MIN_BYTES else None)
    done = offset
    with open(part, "ab" if resumed else "wb") as out:
      while block := response.read(_CHUNK):
        if done == 0 and _looks_like_html(block):
          out.close()
          part.unlink(missing_ok=True)
          raise FetchError(f"{url} returned an HTML page instead of {label}; the server or "
                           "mirror does not hold the file there.")
        out.write(block)
        done += len(block)
        if reporter:
          reporter.update(done)
    if total is not None and done < total:
      raise http.client.IncompleteRead(b"", total - done)


def download(url: str, dest: str | os.PathLike, sha256: str, *, label: str,
             timeout: float = 30.0, attempts: int = 4) -> pathlib.Path:
  """Downloads ``url`` to ``dest`` through ``dest.part``, verified by ``sha256``.

  Args:
    url: the file's URL (already mirrored, see :func:`mirrored`).
    dest: the final path; it appears only once the bytes are verified.
    sha256: expected hex SHA-256 of the file.
    label: the file's name in messages, e.g. ``"mobilenet_imagenet/cat.bmp"``.
    timeout: seconds of socket inactivity before a try counts as failed.
    attempts: tries without progress allowed in this call; each try resumes
      from what arrived before.

  Returns:
    ``dest``.

  Raises:
    NetworkError: unreachable host or a transfer that kept breaking off; the
      part is kept, so running again resumes it.
    ChecksumError: wrong bytes (the part is deleted).
    FetchError: an HTTP error or an HTML page (the part is deleted).
  """
  dest = pathlib.Path(dest)
  part = dest.with_name(dest.name + ".part")
  failures, restarted, error = 0, False, None
  while failures < attempts:
    before = part.stat().st_size if part.exists() else 0
    try:
      _transfer(url, part, label, timeout)
    except (OSError, http.client.HTTPException) as e:
      error = e
      # A try that made progress does not count: the next one resumes from there.
      failures += not (part.exists() and part.stat().st_size > before)
      continue
    digest = checksums.sha256_file(part)
    if digest == sha256:
      os.replace(part, dest)
      return dest
    part.unlink()
    if before and not restarted:  # a stale part, e.g. of another version: start over once
      restarted = True
      continue
    raise ChecksumError(f"{label}: the file from {url} has SHA-256 {digest}, expected {sha256} "
                        "(the list shipped in jaxviz/assets/checksums); it was deleted. The "
                        "server or mirror serves different bytes.")
  reason = getattr(error, "reason", None) or error
  kept = (f" The {part.stat().st_size} bytes received are kept in {part}; run the fetch again "
          "to resume." if part.exists() else "")
  raise NetworkError(f"could not fetch {label} from {url}: {reason}.{kept}") from error
