"""Fetching assets, without the internet: a local HTTP mirror on 127.0.0.1.

The mirror (a thread of this process) serves files laid out like the public
sources (``/<host>/<path>``), with HTTP Range support and injected faults
(wrong bytes, a response that breaks off, HTML pages, 404s). The full fetch
serves copies of the shared assets and checks every fetched file against
them.
"""

import dataclasses
import gzip
import hashlib
import http.server
import io
import json
import logging
import os
import pathlib
import re
import socket
import struct
import threading
import urllib.parse
import zipfile

import numpy as np
import pytest

from jaxviz import assets
from jaxviz.assets import __main__ as cli
from jaxviz.assets import checksums
from jaxviz.assets import derive
from jaxviz.assets import sources
from jaxviz.data import idx
from tests import helpers

_HTML = b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>\n"
_LOGIN_PAGE = b"<head><title>Sign in</title></head><body>Sign in to continue</body>\n"
_FASHION_SYSTEM = pathlib.Path("/usr/share/datasets/fashion-mnist")
# mtime fields of the Fashion-MNIST release gzip headers (train, t10k); the
# Debian repack (shared folder, /usr/share) keeps the deflate stream and drops
# the file name, so the release bytes are the repack with its header restored.
_FASHION_MTIME = {"train": 1504176606, "t10k": 1504176627}


class Mirror:
  """Files by URL path; ``html``, ``truncate_once`` inject faults; ``requests`` logs."""

  def __init__(self):
    self.files: dict[str, bytes] = {}
    self.html: set[str] = set()
    self.truncate_once: set[str] = set()
    self.requests: list[tuple[str, str | None]] = []
    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
    self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

  def put(self, url: str, data: bytes) -> str:
    parts = urllib.parse.urlsplit(url)
    path = f"/{parts.netloc}{parts.path}"
    self.files[path] = data
    return path


def _handler(mirror: Mirror):

  class Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
      pass

    def do_GET(self):  # pylint: disable=invalid-name
      requested = self.headers.get("Range")
      mirror.requests.append((self.path, requested))
      if self.path in mirror.html:
        self._answer(200, _LOGIN_PAGE, "text/html; charset=utf-8")
        return
      data = mirror.files.get(self.path)
      if data is None:
        self.send_error(404, "Not Found")
        return
      start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1)) if requested else 0
      if start >= len(data) > 0:
        self.send_error(416, "Range Not Satisfiable")
        return
      headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
      if self.path in mirror.truncate_once:  # announce everything, send half, hang up
        mirror.truncate_once.discard(self.path)
        self._answer(206 if start else 200, data[start:], cut=len(data[start:]) // 2, **headers)
        return
      self._answer(206 if start else 200, data[start:], **headers)

    def _answer(self, status, body, content_type="application/octet-stream", cut=None,
                **headers):
      self.send_response(status)
      self.send_header("Content-Type", content_type)
      self.send_header("Content-Length", str(len(body)))
      for name, value in headers.items():
        self.send_header(name.replace("_", "-"), value)
      self.end_headers()
      self.wfile.write(body if cut is None else body[:cut])

  return Handler


@pytest.fixture
def mirror():
  server = Mirror()
  thread = threading.Thread(target=server.server.serve_forever, args=(0.02,), daemon=True)
  thread.start()
  yield server
  server.server.shutdown()
  server.server.server_close()


def _sha(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def _toy_folder(files: dict[str, bytes], name: str = "toy") -> sources.AssetFolder:
  return sources.AssetFolder(
      name, "toy files", "example.org", "CC0",
      lambda rel: sources.Remote(f"https://example.org/{name}/{rel}"),
      sums={rel: _sha(data) for rel, data in files.items()}, content_sums={})


def _serve_toy(mirror: Mirror, files: dict[str, bytes], name: str = "toy"):
  folder = _toy_folder(files, name)
  paths = {rel: mirror.put(folder.source_of(rel).url, data) for rel, data in files.items()}
  return {name: folder}, paths


def _leftovers(root: pathlib.Path) -> list[str]:
  """Partial or temporary files anywhere under root."""
  return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                if p.is_file() and (p.name.endswith(".part") or p.name.endswith(".tmp")))


# ---- error paths, on toy folders --------------------------------------------------------------


def test_corrupt_file_is_a_checksum_error_and_nothing_is_left(mirror, tmp_path):
  good = {"a.bin": os.urandom(3000), "sub/b.bin": os.urandom(2000)}
  folders, paths = _serve_toy(mirror, good)
  mirror.files[paths["a.bin"]] = b"x" + good["a.bin"][1:]
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "failed" and isinstance(result.error, assets.ChecksumError)
  assert "toy/a.bin" in str(result.error) and _sha(good["a.bin"]) in str(result.error)
  assert result.line().startswith("toy: failed: ")
  assert not (tmp_path / "toy").exists() and not _leftovers(tmp_path)
  # The verified file waits in staging: the rerun downloads only the one that failed.
  mirror.files[paths["a.bin"]] = good["a.bin"]
  mirror.requests.clear()
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "fetched" and result.files == 2
  assert [p for p, _ in mirror.requests] == [paths["a.bin"]]
  for rel, data in good.items():
    assert (tmp_path / "toy" / rel).read_bytes() == data
  assert checksums.parse_sums((tmp_path / "toy/SHA256SUMS").read_text(), "sums") == {
      rel: _sha(data) for rel, data in good.items()}
  assert not (tmp_path / assets.fetching.STAGING_DIR).exists()


def test_interrupted_download_resumes_with_range_and_shows_progress(mirror, tmp_path, caplog):
  data = os.urandom(1_300_000)  # big enough for progress lines
  folders, paths = _serve_toy(mirror, {"big.bin": data})
  mirror.truncate_once.add(paths["big.bin"])
  caplog.set_level(logging.INFO, logger="jaxviz")
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "fetched", result.error
  assert (tmp_path / "toy/big.bin").read_bytes() == data
  assert mirror.requests == [(paths["big.bin"], None),
                             (paths["big.bin"], f"bytes={len(data) // 2}-")]
  progress = [r.getMessage() for r in caplog.records if "toy/big.bin" in r.getMessage()]
  assert progress and "1300000/1300000 bytes (100%)" in progress[-1] and "ETA" in progress[-1]


def test_partial_download_of_an_earlier_run_resumes_and_a_stale_one_restarts(mirror, tmp_path):
  data = os.urandom(50_000)
  folders, paths = _serve_toy(mirror, {"a.bin": data})
  part = tmp_path / assets.fetching.STAGING_DIR / "toy" / "a.bin.part"
  part.parent.mkdir(parents=True)
  part.write_bytes(data[:20_000])
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "fetched" and mirror.requests == [(paths["a.bin"], "bytes=20000-")]
  # A part of other bytes (another version) fails the checksum: one restart from zero.
  (tmp_path / "toy/a.bin").unlink()
  part.parent.mkdir(parents=True)
  part.write_bytes(os.urandom(20_000))
  mirror.requests.clear()
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "fetched" and (tmp_path / "toy/a.bin").read_bytes() == data
  assert mirror.requests == [(paths["a.bin"], "bytes=20000-"), (paths["a.bin"], None)]


@pytest.mark.parametrize("fault", ["404", "html", "html_without_content_type"])
def test_missing_file_or_html_page_is_a_clear_error(mirror, tmp_path, fault):
  folders, paths = _serve_toy(mirror, {"a.bin": os.urandom(100)})
  if fault == "404":
    del mirror.files[paths["a.bin"]]
  elif fault == "html":
    mirror.html.add(paths["a.bin"])
  else:
    mirror.files[paths["a.bin"]] = _HTML
  (result,) = assets.fetch(root=tmp_path, mirror=mirror.url, folders=folders)
  assert result.status == "failed"
  message = str(result.error)
  assert mirror.url + paths["a.bin"] in message
  assert ("HTTP 404 Not Found" in message) if fault == "404" else ("HTML page" in message)
  assert not list(tmp_path.iterdir())  # nothing at all was left behind


def test_unreachable_server_names_file_and_url(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{s.getsockname()[1]}"
  folders = {"toy": _toy_folder({"a.bin": b"abc"})}
  (result,) = assets.fetch(root=tmp_path, mirror=closed, folders=folders)
  assert isinstance(result.error, assets.NetworkError)
  assert f"toy/a.bin from {closed}/example.org/toy/a.bin" in str(result.error)
  assert not list(tmp_path.iterdir())


def test_cli_unknown_name_unwritable_root_and_offline_hint(tmp_path, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["fetch", "style_images", "nope"])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert "Unknown asset folder(s) ['nope']" in err and "mobilenet_imagenet" in err
  with pytest.raises(ValueError, match="known: mobilenet_imagenet"):
    assets.fetch(["vgg"], root=tmp_path)
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  read_only = tmp_path / "read_only"
  read_only.mkdir(mode=0o555)
  for unwritable in (blocker / "assets", read_only):
    assert cli.main(["fetch", "style_images", "--dir", str(unwritable)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"style_images: failed: cannot write to the asset folder {unwritable} (")
  assert not list(read_only.iterdir())
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{s.getsockname()[1]}"
  assert cli.main(["fetch", "style_images", "--dir", str(tmp_path / "r"), "--mirror",
                   closed]) == 1
  captured = capsys.readouterr()
  assert captured.out.count("\n") == 1 and "style_images: failed: 5 files" in captured.out
  assert f"{closed}/raw.githubusercontent.com/jcjohnson/neural-style/" in captured.out
  assert "Offline?" in captured.err and "JAXVIZ_DATA_DIR" in captured.err
  assert not _leftovers(tmp_path) and not (tmp_path / "r" / "style_images").exists()


# ---- the real asset table, served from copies of the shared assets -----------------------------


def _release_gzip(repack: bytes, name: str) -> bytes:
  """The Fashion-MNIST release file from its Debian repack (same deflate stream)."""
  assert repack[:4] == b"\x1f\x8b\x08\x00", "expected a gzip header without a file name"
  mtime = _FASHION_MTIME[name.split("-")[0]]
  return (b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03"
          + name.removesuffix(".gz").encode() + b"\x00" + repack[10:])


def _human_categories_source(indices: dict[str, list[int]]) -> bytes:
  """A stand-in for the repository's human_categories.py with the same tables."""
  body = "".join(f"    {name}_indices = {values}\n" for name, values in indices.items())
  return (f"import numpy as np\n\nclass HumanCategories(object):\n    knife = ['n03041632']\n"
          f"{body}\n    def get(self, c):\n        return getattr(self, c + '_indices')\n").encode()


def _with_downloads(folder: sources.AssetFolder, sums: dict[str, str]) -> sources.AssetFolder:
  """The folder with the SHA-256 of its intermediate downloads replaced (test stand-ins)."""

  def swap(item):
    return dataclasses.replace(item, sha256=sums[item.url]) if isinstance(
        item, sources.Download) else item

  def source_of(rel):
    source = folder.source_of(rel)
    if isinstance(source, sources.ZipMember):
      return dataclasses.replace(source, archive=swap(source.archive))
    if isinstance(source, sources.Derived):
      return dataclasses.replace(source, inputs=tuple(swap(i) for i in source.inputs))
    return source

  return dataclasses.replace(folder, source_of=source_of)


def _serve_real(mirror: Mirror, names, shared: pathlib.Path):
  """Serves every download of ``names`` from copies; returns the table to fetch with."""
  folders, stand_ins = {}, {}
  wheels: dict[str, dict[str, bytes]] = {}
  for name in names:
    folder = sources.FOLDERS[name]
    for rel in folder.file_sums():
      source = folder.source_of(rel)
      if name == "fashion_mnist_t10k":
        local = shared / name / rel if rel.startswith("t10k") else _FASHION_SYSTEM / rel
        mirror.put(source.url, _release_gzip(local.read_bytes(), rel))
      elif isinstance(source, sources.Remote):
        mirror.put(source.url, (shared / name / rel).read_bytes())
      elif isinstance(source, sources.ZipMember):
        wheels.setdefault(source.archive.url, {})[source.member] = (shared / name / rel).read_bytes()
      elif rel == "geirhos16_imagenet_indices.json":
        table = json.loads((shared / name / rel).read_text())
        (url,) = [i.url for i in source.inputs]
        stand_ins[url] = _sha(_human_categories_source(table))
        mirror.put(url, _human_categories_source(table))
    for url, members in wheels.items():
      buffer = io.BytesIO()
      with zipfile.ZipFile(buffer, "w") as z:
        for member, data in members.items():
          z.writestr(member, data)
      stand_ins[url] = _sha(buffer.getvalue())
      mirror.put(url, buffer.getvalue())
    folders[name] = _with_downloads(folder, stand_ins)
  return folders


def test_full_fetch_from_a_mirror_gives_the_shared_assets(mirror, tmp_path, monkeypatch):
  shared = helpers.shared_asset("INDEX.txt").parent
  names = [n for n in sources.FOLDERS if n != "fashion_mnist_t10k"]  # below, 30 MB
  folders = _serve_real(mirror, names, shared)
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path / "data"))
  monkeypatch.setenv(assets.MIRROR_ENV, mirror.url)
  lines = []
  results = assets.fetch(folders=folders, on_result=lambda r: lines.append(r.line()))
  assert [r.status for r in results] == ["fetched"] * len(names), [r.line() for r in results]
  assert [line.split(":")[0] for line in lines] == names
  for name in names:
    expected = checksums.folder_sums(name)
    for rel in expected:
      fetched, original = tmp_path / "data" / name / rel, shared / name / rel
      if rel.endswith(".npz"):  # derived here from the .tflite: the same arrays, exactly
        with np.load(fetched) as a, np.load(original) as b:
          assert a.files == b.files
          for key in a.files:
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        assert checksums.content_digest(fetched) == checksums.content_sums()[f"{name}/{rel}"]
      else:
        assert fetched.read_bytes() == original.read_bytes(), f"{name}/{rel}"
    assert (tmp_path / "data" / name / "SOURCE.txt").exists()
  assert "mobilenet_imagenet/" in (tmp_path / "data" / "INDEX.txt").read_text()
  assert not (tmp_path / "data" / assets.fetching.STAGING_DIR).exists()
  assert not _leftovers(tmp_path)
  # Everything verifies now: a second fetch downloads nothing.
  mirror.requests.clear()
  results = assets.fetch(folders=folders)
  assert {r.status for r in results} == {"already present"} and not mirror.requests
  assert assets.find_asset("style_images/tubingen.jpg") == tmp_path / "data/style_images/tubingen.jpg"


def test_fashion_mnist_release_files_give_the_full_dataset(mirror, tmp_path):
  if not (_FASHION_SYSTEM / "train-images-idx3-ubyte.gz").exists():
    pytest.skip(f"the Fashion-MNIST train split is served from {_FASHION_SYSTEM} "
                "(apt-get install dataset-fashion-mnist), which is absent")
  shared = helpers.shared_asset("fashion_mnist_t10k").parent
  folders = _serve_real(mirror, ["fashion_mnist_t10k"], shared)
  (result,) = assets.fetch(["fashion_mnist_t10k"], root=tmp_path, mirror=mirror.url,
                           folders=folders)
  assert result.status == "fetched" and result.files == 4
  folder = tmp_path / "fashion_mnist_t10k"
  for rel, sha in checksums.folder_sums("fashion_mnist_t10k").items():
    assert checksums.sha256_file(folder / rel) == sha  # the release bytes
    system = (shared / "fashion_mnist_t10k" if rel.startswith("t10k") else _FASHION_SYSTEM) / rel
    assert gzip.decompress((folder / rel).read_bytes()) == gzip.decompress(system.read_bytes())
  train = idx.load_idx_dataset("fashion_mnist", "train", data_dir=folder)
  assert train.images.shape == (60000, 28, 28, 1) and np.bincount(train.labels).tolist() == [6000] * 10
  # A folder holding the Debian repack of the test files (the shared folder's bytes) is
  # valid by content: only the missing train labels are fetched.
  for rel in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    (folder / rel).write_bytes((shared / "fashion_mnist_t10k" / rel).read_bytes())
  (folder / "train-labels-idx1-ubyte.gz").unlink()
  mirror.requests.clear()
  (result,) = assets.fetch(["fashion_mnist_t10k"], root=tmp_path, mirror=mirror.url,
                           folders=folders)
  assert result.status == "fetched" and result.files == 1
  assert [p.rsplit("/", 1)[1] for p, _ in mirror.requests] == ["train-labels-idx1-ubyte.gz"]


def test_derivations_match_the_shared_files(tmp_path):
  mobilenet = helpers.shared_asset("mobilenet_imagenet")
  npz = derive.mobilenet_npz(mobilenet / "mobilenet_v1_0.25_128_quant.tflite")
  with np.load(io.BytesIO(npz)) as a, np.load(
      mobilenet / "mobilenet_v1_0.25_128_quant_dequant_float32.npz") as b:
    assert a.files == b.files and len(a.files) == 56
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == np.float32 for k in a.files)
  assert derive.npz_layer_name("MobilenetV2/Logits/Conv2d_1c_1x1/Conv2D;x/weights_quant") == (
      "MobilenetV2/Logits/Conv2d_1c_1x1")
  (tmp_path / "human_categories.py").write_text("class HumanCategories:\n  cat_indices = [1]\n")
  with pytest.raises(ValueError, match="expected 16 '<class>_indices' lists.*found \\['cat'\\]"):
    derive.geirhos16_indices_json(tmp_path / "human_categories.py")
