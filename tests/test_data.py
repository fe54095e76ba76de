"""Tests for jaxviz.data: IDX, TFDS, image files, samples, preprocessing, registry."""

from __future__ import annotations

import gzip
import os
import pathlib
import struct

import numpy as np
import PIL.Image
import pytest

from jaxviz import assets
from jaxviz import data
from jaxviz.models.meta import ModelMeta

SYSTEM_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _shared(folder: str) -> pathlib.Path:
  """A shared asset folder under $JAXVIZ_DATA_DIR, or skip."""
  root = os.environ.get("JAXVIZ_DATA_DIR")
  if not root or not (pathlib.Path(root) / folder).is_dir():
    pytest.skip(f"{folder} not found: set JAXVIZ_DATA_DIR to the shared data folder "
                f"(e.g. /work/shared/data) holding {folder}/.")
  return pathlib.Path(root) / folder


def _idx_bytes(array: np.ndarray) -> bytes:
  """IDX encoding written independently of the reader: 0, 0, 0x08, ndim, dims (>u4), data."""
  header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
  return header + array.astype(np.uint8).tobytes()


def _write_idx(directory: pathlib.Path, prefix: str, images: np.ndarray, labels: np.ndarray,
               gz: bool) -> tuple[pathlib.Path, pathlib.Path]:
  paths = []
  for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
    raw = _idx_bytes(array)
    path = directory / f"{prefix}-{kind}-ubyte{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    paths.append(path)
  return tuple(paths)


def _toy_dataset(n: int = 10) -> data.Dataset:
  rng = np.random.default_rng(0)
  return data.Dataset(images=rng.integers(0, 256, (n, 4, 3, 1), dtype=np.uint8),
                      labels=(np.arange(n) % 3).astype(np.int32),
                      class_names=("a", "b", "c"), name="toy")


def _toy_meta(channels: int = 3, size: int = 16) -> ModelMeta:
  return ModelMeta(name="toy", input_shape=(size, size, channels), mean=(0.5,) * channels,
                   std=(0.5,) * channels, class_names=("a", "b"))


# ---------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("split,prefix", [("train", "train"), ("test", "t10k")])
def test_idx_round_trip(tmp_path, gz, split, prefix):
  rng = np.random.default_rng(1)
  images = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
  labels = rng.integers(0, 10, (7,), dtype=np.uint8)
  _write_idx(tmp_path, prefix, images, labels, gz)
  ds = data.load_idx_dataset("fashion_mnist", split, data_dir=tmp_path)
  assert ds.images.dtype == np.uint8 and ds.images.shape == (7, 5, 3, 1)
  np.testing.assert_array_equal(ds.images[..., 0], images)
  assert ds.labels.dtype == np.int32
  np.testing.assert_array_equal(ds.labels, labels)
  assert ds.class_names == data.FASHION_MNIST_CLASSES and ds.class_names[9] == "Ankle boot"
  assert ds.name == f"fashion_mnist/{split}" and len(ds) == 7


def test_idx_prefers_gz_and_reads_any_shape(tmp_path):
  array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
  (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(array)))
  np.testing.assert_array_equal(data.read_idx(tmp_path / "a.gz"), array)
  np.testing.assert_array_equal(data.read_idx(tmp_path / "a.gz", ndim=3), array)


def _raises_naming(path, match, ndim=None):
  with pytest.raises(ValueError, match=match) as info:
    data.read_idx(path, ndim=ndim)
  assert str(path) in str(info.value)


def test_idx_truncated_and_corrupt_files(tmp_path):
  raw = _idx_bytes(np.zeros((3, 4, 4), np.uint8))
  truncated = tmp_path / "t10k-images-idx3-ubyte"
  truncated.write_bytes(raw[:-5])
  _raises_naming(truncated, "truncated or corrupt")
  too_long = tmp_path / "long"
  too_long.write_bytes(raw + b"\0")
  _raises_naming(too_long, r"shape \(3, 4, 4\)")
  short_header = tmp_path / "short"
  short_header.write_bytes(raw[:10])
  _raises_naming(short_header, "truncated IDX header")
  bad_magic = tmp_path / "magic"
  bad_magic.write_bytes(b"\x1f\x8b" + raw[2:])
  _raises_naming(bad_magic, "magic number")
  floats = tmp_path / "floats"
  floats.write_bytes(raw[:2] + b"\x0d" + raw[3:])
  _raises_naming(floats, "type code 0x0d")
  _raises_naming(truncated, "3 dimensions, expected 1", ndim=1)
  bad_gz = tmp_path / "bad.gz"
  bad_gz.write_bytes(gzip.compress(raw)[:-20])
  _raises_naming(bad_gz, "gzip")
  with pytest.raises(FileNotFoundError):
    data.read_idx(tmp_path / "missing")


def test_idx_inconsistent_pair(tmp_path):
  _write_idx(tmp_path, "t10k", np.zeros((3, 2, 2), np.uint8), np.zeros(4, np.uint8), gz=False)
  with pytest.raises(ValueError, match="3 images but .* 4 labels"):
    data.load_idx_dataset("mnist", "test", data_dir=tmp_path)
  _write_idx(tmp_path, "t10k", np.zeros((3, 2, 2), np.uint8), np.array([1, 10, 2], np.uint8),
             gz=False)
  with pytest.raises(ValueError, match="label 10 is out of range"):
    data.load_idx_dataset("mnist", "test", data_dir=tmp_path)


def test_idx_missing_files_error(tmp_path, monkeypatch):
  with pytest.raises(assets.AssetNotFoundError) as info:
    data.load_idx_dataset("fashion_mnist", "train", data_dir=tmp_path)
  message = str(info.value)
  assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message
  assert "apt-get install dataset-fashion-mnist" in message and str(tmp_path) in message
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path / "root"))
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
  with pytest.raises(assets.AssetNotFoundError, match="mnist_t10k") as info:
    data.load_idx_dataset("mnist", "test")
  assert str(tmp_path / "root" / "mnist_t10k") in str(info.value)
  assert str(tmp_path / "cache" / "jaxviz" / "mnist_t10k") in str(info.value)


def test_idx_search_dirs(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXVIZ_DATA_DIR", str(tmp_path))
  dirs = data.idx_search_dirs("fashion_mnist")
  assert dirs[0] == tmp_path / "fashion_mnist_t10k"
  assert dirs[-1] == SYSTEM_FASHION_MNIST
  assert data.idx_search_dirs("mnist", data_dir=tmp_path) == [tmp_path]
  with pytest.raises(ValueError, match="Unknown IDX dataset 'cifar'"):
    data.idx_search_dirs("cifar")
  with pytest.raises(ValueError, match="Unknown split 'val'"):
    data.load_idx_dataset("mnist", "val")


def test_real_mnist_t10k():
  ds = data.load_idx_dataset("mnist", "test", data_dir=_shared("mnist_t10k"))
  assert ds.images.shape == (10000, 28, 28, 1) and len(ds) == 10000
  np.testing.assert_array_equal(ds.labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
  np.testing.assert_array_equal(np.bincount(ds.labels),
                                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
  assert ds.class_names == tuple("0123456789")


def test_real_fashion_mnist_t10k_via_env():
  _shared("fashion_mnist_t10k")  # The default search finds $JAXVIZ_DATA_DIR first.
  ds = data.load_dataset("fashion_mnist", "test")
  assert ds.images.shape == (10000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(ds.labels), [1000] * 10)
  assert ds.class_names[0] == "T-shirt/top"


@pytest.mark.skipif(not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason="full Fashion-MNIST absent: apt-get install dataset-fashion-mnist")
def test_full_fashion_mnist_train():
  ds = data.load_idx_dataset("fashion_mnist", "train", data_dir=SYSTEM_FASHION_MNIST)
  assert ds.images.shape == (60000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(ds.labels), [6000] * 10)


def test_foolbox_mnist_pngs_equal_first_idx_images():
  """Cross-check PNG and IDX decoding: foolbox's samples are t10k images 0..19."""
  ds = data.load_idx_dataset("mnist", "test", data_dir=_shared("mnist_t10k"))
  names, images, labels = data.labelled_images(_shared("foolbox_samples"), "mnist_*", mode=None)
  assert names[0] == "mnist_00_7.png" and len(names) == 20
  np.testing.assert_array_equal(np.stack(images), ds.images[:20])
  np.testing.assert_array_equal(labels, ds.labels[:20])


# ---------------------------------------------------------------- Dataset / batches


def test_batches_cover_every_example_once():
  ds = _toy_dataset(10)
  batches = list(ds.batches(4, shuffle=True, seed=3))
  assert [len(b["label"]) for b in batches] == [4, 4, 2]
  images = np.concatenate([b["image"] for b in batches])
  order = [int(np.flatnonzero((ds.images == im).all(axis=(1, 2, 3)))[0]) for im in images]
  assert sorted(order) == list(range(10)) and order != list(range(10))
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), ds.labels[order])
  assert all(b["image"].dtype == np.uint8 and b["label"].dtype == np.int32 for b in batches)
  again = np.concatenate([b["label"] for b in ds.batches(4, shuffle=True, seed=3)])
  np.testing.assert_array_equal(again, ds.labels[order])
  plain = list(ds.batches(4))
  np.testing.assert_array_equal(np.concatenate([b["image"] for b in plain]), ds.images)
  assert [len(b["label"]) for b in ds.batches(4, drop_remainder=True)] == [4, 4]


def test_batch_indices():
  seen = np.concatenate(list(data.batch_indices(7, 3, shuffle=True, seed=0)))
  assert sorted(seen) == list(range(7))
  other = np.concatenate(list(data.batch_indices(7, 3, shuffle=True, seed=1)))
  assert list(seen) != list(other)
  for bad in (0, -1, 2.0, True):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
      list(data.batch_indices(7, bad))


def test_dataset_validation():
  ds = _toy_dataset(4)
  with pytest.raises(ValueError, match=r"uint8 array \[N, H, W, C\].*float32"):
    data.Dataset(ds.images.astype(np.float32), ds.labels, ds.class_names, "x")
  with pytest.raises(ValueError, match=r"int32 array \[N\].*int64"):
    data.Dataset(ds.images, ds.labels.astype(np.int64), ds.class_names, "x")
  with pytest.raises(ValueError, match="4 images but 3 labels"):
    data.Dataset(ds.images, ds.labels[:3], ds.class_names, "x")
  with pytest.raises(ValueError, match=r"labels span \[0, 2\] but there are 2 class names"):
    data.Dataset(ds.images, ds.labels, ("a", "b"), "x")


# ---------------------------------------------------------------- TFDS


def test_tfds_under_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  # With no metadata files for mnist, MockPolicy.AUTO falls back to USE_CODE:
  # examples are generated from the feature spec, no TensorFlow needed.
  with tfds.testing.mock_data(num_examples=10):
    source = data.load_tfds("mnist", "test")
    assert isinstance(source, data.TfdsSource) and len(source) == 10
    assert source.class_names == data.MNIST_CLASSES and source.name == "tfds:mnist/test"
    batches = list(source.batches(4, shuffle=True, seed=0))
    assert [b["image"].shape for b in batches] == [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]
    assert all(b["image"].dtype == np.uint8 and b["label"].dtype == np.int32 for b in batches)
    examples = [source.example(i) for i in range(10)]
    images = np.concatenate([b["image"] for b in batches])
    order = [next(i for i, ex in enumerate(examples) if (ex["image"] == im).all()) for im in images]
    assert sorted(order) == list(range(10))
    labels = np.concatenate([b["label"] for b in batches])
    np.testing.assert_array_equal(labels, [examples[i]["label"] for i in order])
    assert labels.min() >= 0 and labels.max() < 10
    np.testing.assert_array_equal(source.example(-1)["image"], examples[9]["image"])
    with pytest.raises(IndexError, match="index 10 out of range"):
      source.example(10)
    in_memory = source.to_dataset(max_examples=6)
    assert isinstance(in_memory, data.Dataset) and in_memory.images.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(in_memory.images[5], examples[5]["image"])
    np.testing.assert_array_equal(in_memory.labels, [ex["label"] for ex in examples[:6]])
    assert len(source.to_dataset()) == 10
    with pytest.raises(ValueError, match="nothing to load"):
      source.to_dataset(max_examples=0)
    fashion = data.load_dataset("tfds:fashion_mnist", "train")
    assert fashion.class_names == data.FASHION_MNIST_CLASSES
    with pytest.raises(ValueError,
                       match=r"no feature\(s\) \['img'\]; its features are \['image', 'label'\]"):
      data.load_tfds("mnist", "test", image_key="img")


def test_tfds_not_prepared_and_unknown(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  with pytest.raises(assets.AssetNotFoundError,
                     match="tfds build mnist --file_format=array_record"):
    data.load_tfds("mnist", "test", data_dir=tmp_path)
  with pytest.raises(ValueError, match="TFDS has no dataset 'no_such_dataset_xyz'"):
    data.load_tfds("no_such_dataset_xyz", "test", data_dir=tmp_path)


# ---------------------------------------------------------------- image files


def test_load_image_modes(tmp_path):
  rng = np.random.default_rng(2)
  rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
  gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
  PIL.Image.fromarray(rgb).save(tmp_path / "rgb.png")
  PIL.Image.fromarray(rgb).save(tmp_path / "rgb.bmp")
  PIL.Image.fromarray(gray).save(tmp_path / "gray.png")
  np.testing.assert_array_equal(data.load_image(tmp_path / "rgb.png"), rgb)
  np.testing.assert_array_equal(data.load_image(tmp_path / "rgb.bmp"), rgb)
  np.testing.assert_array_equal(data.load_image(tmp_path / "gray.png", mode=None), gray[..., None])
  np.testing.assert_array_equal(data.load_image(tmp_path / "gray.png"),
                                np.repeat(gray[..., None], 3, -1))
  luma = data.load_image(tmp_path / "rgb.png", mode="L")
  assert luma.shape == (5, 7, 1)
  assert np.abs(luma.astype(int) - data.convert_channels(rgb, 1)).max() <= 1
  np.testing.assert_array_equal(data.load_image(tmp_path / "rgb.png", mode=None), rgb)


def test_load_image_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="nope.png does not exist"):
    data.load_image(tmp_path / "nope.png")
  (tmp_path / "junk.png").write_bytes(b"not an image")
  with pytest.raises(ValueError, match="Cannot read image .*junk.png"):
    data.load_image(tmp_path / "junk.png")
  PIL.Image.fromarray(np.zeros((8, 8), np.uint16)).save(tmp_path / "deep.png")
  with pytest.raises(ValueError, match="deep.png: PIL mode 'I"):
    data.load_image(tmp_path / "deep.png")
  PIL.Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "ok.png")
  with pytest.raises(ValueError, match="mode must be one of"):
    data.load_image(tmp_path / "ok.png", mode="CMYK")


def test_load_image_folder_real_photos():
  folder = _shared("sample_images_imagenet")
  images, names = data.load_image_folder(folder)
  assert names == sorted(names) and len(names) == 9
  assert names[0] == "bird.bmp" and "grace_hopper.bmp" in names
  assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3 for im in images)
  reference = np.asarray(PIL.Image.open(folder / "parrot.jpg").convert("RGB"))
  np.testing.assert_array_equal(images[names.index("parrot.jpg")], reference)
  jpgs, jpg_names = data.load_image_folder(folder, pattern="*.jpg", mode="L")
  assert jpg_names == ["hot_dog.jpg", "owl.jpg", "parrot.jpg", "pets.jpg"]
  assert all(im.shape[2] == 1 for im in jpgs)


def test_load_image_folder_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match="Image folder .*missing does not exist"):
    data.load_image_folder(tmp_path / "missing")
  (tmp_path / "notes.txt").write_text("hi")
  with pytest.raises(ValueError, match="No image files with an extension"):
    data.load_image_folder(tmp_path)
  with pytest.raises(ValueError, match=r"No image files matching '\*.jpg'"):
    data.load_image_folder(tmp_path, pattern="*.jpg")
  (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8garbage")
  with pytest.raises(ValueError, match="broken.jpg"):
    data.load_image_folder(tmp_path)


def test_labelled_images_foolbox():
  folder = _shared("foolbox_samples")
  names, images, labels = data.labelled_images(folder, "imagenet_*")
  assert len(names) == 20 and names[0] == "imagenet_00_243.jpg"
  assert labels.dtype == np.int32 and labels[0] == 243 and labels[15] == 99
  assert all(im.shape[2] == 3 for im in images)
  names, images, labels = data.labelled_images(folder, "cifar10_*")
  assert len(names) == 20 and all(n.startswith("cifar10_") for n in names)
  assert images[0].shape == (32, 32, 3) and labels[0] == 3


def test_parse_label(tmp_path):
  assert data.parse_label("fashionMNIST_07_4.png") == 4
  assert data.parse_label("a_b_12_345.jpg") == 345
  for bad in ("cat.jpg", "mnist_7.png", "mnist_00_x.png"):
    with pytest.raises(ValueError, match="<dataset>_<nn>_<label>"):
      data.parse_label(bad)
  PIL.Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "cat.png")
  with pytest.raises(ValueError, match="'cat.png' does not follow"):
    data.labelled_images(tmp_path)


# ---------------------------------------------------------------- samples


def test_skimage_image():
  chelsea = data.skimage_image("chelsea")
  assert chelsea.shape == (300, 451, 3) and chelsea.dtype == np.uint8
  gray = data.skimage_image("chelsea", mode="L")
  np.testing.assert_array_equal(gray, data.convert_channels(chelsea, 1))
  camera = data.skimage_image("camera")
  assert camera.shape == (512, 512, 3)
  np.testing.assert_array_equal(camera[..., 0], camera[..., 2])
  assert data.skimage_image("camera", mode=None).shape == (512, 512, 1)
  with pytest.raises(ValueError, match="Unknown scikit-image sample 'dog'; known: astronaut, cat"):
    data.skimage_image("dog")


def test_sklearn_digits():
  sklearn_datasets = pytest.importorskip("sklearn.datasets")
  model_selection = pytest.importorskip("sklearn.model_selection")
  ds = data.sklearn_digits()
  assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.uint8
  assert ds.images.min() == 0 and ds.images.max() == 255
  raw = sklearn_datasets.load_digits()
  np.testing.assert_array_equal(ds.images[..., 0] == 255, raw.images == 16)
  np.testing.assert_array_equal(ds.images[3, ..., 0], np.round(raw.images[3] * 255 / 16))
  _, _, y_train, y_test = model_selection.train_test_split(
      raw.images, raw.target, test_size=0.5, shuffle=False)
  np.testing.assert_array_equal(data.sklearn_digits("train").labels, y_train)
  np.testing.assert_array_equal(data.load_dataset("digits").labels, y_test)
  with pytest.raises(ValueError, match="Unknown split 'val' for digits"):
    data.sklearn_digits("val")


# ---------------------------------------------------------------- preprocess


def test_resize_constant_identity_and_list():
  const = np.full((2, 9, 13, 3), 77, np.uint8)
  out = data.resize(const, (4, 5))
  assert out.shape == (2, 4, 5, 3) and out.dtype == np.uint8 and (out == 77).all()
  rng = np.random.default_rng(3)
  x = rng.integers(0, 256, (2, 6, 6, 1), dtype=np.uint8)
  np.testing.assert_array_equal(data.resize(x, (6, 6)), x)
  mixed = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((10, 20), (30, 7))]
  assert data.resize(mixed, (8, 8)).shape == (2, 8, 8, 3)
  floats = data.resize(x.astype(np.float64) / 255, (3, 3))
  assert floats.dtype == np.float32 and 0 <= floats.min() and floats.max() <= 1


def test_resize_matches_pil_and_antialiases():
  rng = np.random.default_rng(4)
  rgb = rng.integers(0, 256, (1, 40, 30, 3), dtype=np.uint8)
  reference = np.asarray(
      PIL.Image.fromarray(rgb[0]).resize((11, 17), PIL.Image.Resampling.BILINEAR))
  assert np.abs(data.resize(rgb, (17, 11))[0].astype(int) - reference).max() <= 1
  checker = ((np.indices((64, 64)).sum(0) % 2) * 255).astype(np.uint8)[None, ..., None]
  small = data.resize(checker, (8, 8))
  assert np.abs(small.astype(int) - 128).max() <= 2  # Aliasing would give 0s and 255s.


def test_resize_central_crop():
  image = np.zeros((1, 8, 8, 1), np.uint8)
  image[0, 2:6, 2:6, 0] = np.arange(16).reshape(4, 4)
  np.testing.assert_array_equal(data.resize(image, (4, 4), central_crop=0.5), image[:, 2:6, 2:6])


def test_resize_errors():
  x = np.zeros((4, 4, 3), np.uint8)
  with pytest.raises(ValueError, match=r"got an array of shape \(4, 4, 3\) \(add a batch axis"):
    data.resize(x, (2, 2))
  with pytest.raises(ValueError, match="size must be a pair of positive ints"):
    data.resize(x[None], (0, 2))
  with pytest.raises(ValueError, match="central_crop must be in"):
    data.resize(x[None], (2, 2), central_crop=0.0)
  with pytest.raises(ValueError, match=r"uint8 or float, got dtype\(s\) \['int32'\]"):
    data.resize(x[None].astype(np.int32), (2, 2))
  with pytest.raises(ValueError, match=r"different channel counts \[1, 3\]"):
    data.resize([x, x[..., :1]], (2, 2))
  with pytest.raises(ValueError, match="empty list"):
    data.resize([], (2, 2))
  with pytest.raises(ValueError, match=r"item 1 has shape \(4, 4\)"):
    data.resize([x, x[..., 0]], (2, 2))


def test_convert_channels():
  rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
  gray = data.convert_channels(rgb, 1)
  reference = np.asarray(PIL.Image.fromarray(rgb).convert("L"))[..., None]
  assert gray.dtype == np.uint8 and np.abs(gray.astype(int) - reference).max() <= 1
  np.testing.assert_allclose(data.convert_channels(rgb.astype(np.float32), 1)[0, :3, 0],
                             [76.245, 149.685, 29.07], rtol=1e-5)
  np.testing.assert_array_equal(data.convert_channels(gray, 3), np.repeat(gray, 3, -1))
  with pytest.raises(ValueError, match="channel axis of size 1 or 3"):
    data.convert_channels(np.zeros((2, 2, 4), np.uint8), 1)


def test_prepare_for_model_gray_to_rgb():
  meta = _toy_meta(channels=3, size=16)
  images = np.zeros((2, 28, 28, 1), np.uint8)
  images[1] = 255
  x = data.prepare_for_model(images, meta)
  assert x.shape == (2, 16, 16, 3) and x.dtype == np.float32
  np.testing.assert_allclose(x[0], -1.0)
  np.testing.assert_allclose(x[1], 1.0)
  lo, hi = meta.input_range
  photo = data.prepare_for_model([np.random.default_rng(5).integers(0, 256, (40, 50, 3),
                                                                    dtype=np.uint8)], meta)
  assert photo.shape == (1, 16, 16, 3) and lo <= photo.min() and photo.max() <= hi


def test_prepare_for_model_rgb_to_gray():
  meta = ModelMeta(name="gray", input_shape=(8, 8, 1), mean=(0.0,), std=(1.0,),
                   class_names=tuple("0123456789"))
  red = np.zeros((1, 8, 8, 3), np.uint8)
  red[..., 0] = 255
  x = data.prepare_for_model(red, meta)
  assert x.shape == (1, 8, 8, 1)
  np.testing.assert_allclose(x, 0.299, rtol=1e-5)


def test_prepare_for_model_errors():
  meta = _toy_meta()
  with pytest.raises(ValueError, match="must be uint8 pixels in \\[0, 255\\], got float32"):
    data.prepare_for_model(np.zeros((1, 4, 4, 3), np.float32), meta)
  with pytest.raises(ValueError, match="1 or 3 channels, got 4"):
    data.prepare_for_model(np.zeros((1, 4, 4, 4), np.uint8), meta)
  with pytest.raises(ValueError, match="numpy array or a list"):
    data.prepare_for_model("cat.jpg", meta)


# ---------------------------------------------------------------- registry


def test_load_dataset_registry(tmp_path):
  _write_idx(tmp_path, "t10k", np.ones((2, 3, 3), np.uint8), np.array([3, 1], np.uint8), gz=True)
  ds = data.load_dataset("mnist", data_dir=tmp_path)
  np.testing.assert_array_equal(ds.labels, [3, 1])
  assert ds.name == "mnist/test"
  for bad in ("cifar10", "tfds:", "MNIST"):
    with pytest.raises(ValueError) as info:
      data.load_dataset(bad)
    message = str(info.value)
    assert f"Unknown dataset {bad!r}" in message
    assert all(known in message for known in ("fashion_mnist", "mnist", "digits", "tfds:<"))
  assert data.DATASET_NAMES[:3] == ("fashion_mnist", "mnist", "digits")
  with pytest.raises(ValueError, match="'digits' ships with scikit-learn; data_dir must be None"):
    data.load_dataset("digits", "train", data_dir=tmp_path)
  with pytest.raises(ValueError, match=r"takes no options besides data_dir; got \['download'\]"):
    data.load_dataset("mnist", data_dir=tmp_path, download=True)
