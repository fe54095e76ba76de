"""Finding assets on disk, and the shipped source and checksum tables."""

import pytest

from jaxviz import assets
from jaxviz.assets import checksums
from jaxviz.assets import sources


def test_lookup_order_and_the_missing_asset_message(tmp_path, monkeypatch):
  data, cache = tmp_path / "data", tmp_path / "xdg"
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(data))
  monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
  assert assets.search_roots() == [data, cache / "jaxviz"]
  assert assets.fetch_root() == data
  (cache / "jaxviz" / "style_images").mkdir(parents=True)
  (cache / "jaxviz" / "style_images" / "tubingen.jpg").write_bytes(b"x")
  assert assets.find_asset("style_images/tubingen.jpg") == cache / "jaxviz/style_images/tubingen.jpg"
  (data / "style_images").mkdir(parents=True)
  (data / "style_images" / "tubingen.jpg").write_bytes(b"y")
  assert assets.find_asset("style_images/tubingen.jpg") == data / "style_images/tubingen.jpg"
  with pytest.raises(assets.AssetNotFoundError) as info:
    assets.find_asset("mnist_t10k/t10k-images-idx3-ubyte.gz")
  message = str(info.value)
  assert "python -m jaxviz.assets fetch mnist_t10k" in message and "kelas/mnist" in message
  assert str(data / "mnist_t10k") in message and str(cache / "jaxviz" / "mnist_t10k") in message
  with pytest.raises(assets.AssetNotFoundError) as info:
    assets.find_asset("vgg/vgg16.safetensors")
  assert "fetch" not in str(info.value) and "vgg16.tv_in1k" in str(info.value)
  monkeypatch.delenv("JAXVIZ_DATA_DIR")
  assert assets.fetch_root() == cache / "jaxviz"


def test_every_shipped_file_has_a_pinned_source_and_every_download_a_checksum():
  pinned = at_commit = 0
  for folder in assets.FOLDERS.values():
    sums = checksums.folder_sums(folder.name)
    assert sums and all(len(h) == 64 for h in sums.values())
    for rel in sums:
      source = folder.source_of(rel)
      if isinstance(source, sources.Remote):
        assert source.url.startswith("https://raw.githubusercontent.com/")
        at_commit += len(source.url.split("/")[5]) == 40  # a commit, not a branch
      elif isinstance(source, sources.ZipMember):
        assert len(source.archive.expected_sha256()) == 64
      else:
        for item in source.inputs:
          if isinstance(item, sources.Download):
            assert len(item.expected_sha256()) == 64
          else:
            assert item in sums
      pinned += 1
    for rel in (r for r in sums if r.endswith((".npz", ".gz"))):
      assert folder.content_sum(rel) is not None, (folder.name, rel)
  remote = sum(isinstance(f.source_of(r), sources.Remote)
               for f in assets.FOLDERS.values() for r in checksums.folder_sums(f.name))
  assert pinned == 297 and at_commit == remote == 193
  assert set(assets.ASSET_SOURCES) == set(assets.FOLDERS) | {"vgg"}


def test_sums_parser_rejects_malformed_lines():
  assert checksums.parse_sums("# note\n" + "a" * 64 + "  x/y.png\n", "t") == {"x/y.png": "a" * 64}
  with pytest.raises(ValueError, match=r"t:1: expected '<sha256>  <name>'"):
    checksums.parse_sums("abc  x.png\n", "t")
