"""Where every file of every asset folder comes from: pinned public sources.

Each folder of the asset root (laid out as the project's shared data folder)
is an :class:`AssetFolder`; each of its files is made one of three ways:
:class:`Remote` (the bytes at a URL: GitHub raw files at a pinned commit),
:class:`ZipMember` (a member of a downloaded archive: the foolbox wheel on
PyPI) or :class:`Derived` (computed here from other files: the float32
MobileNet ``.npz`` from the ``.tflite``, the Geirhos 16-class index table
from the repository's Python source). The SHA-256 of every file is in the
package (:mod:`jaxviz.assets.checksums`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Callable, Mapping

from jaxviz.assets import checksums
from jaxviz.assets import derive

__all__ = ("AssetFolder", "Derived", "Download", "FOLDERS", "Remote", "ZipMember",
           "github_raw")


def github_raw(repo: str, commit: str, path: str) -> str:
  """URL of a file of a public GitHub repository at a commit."""
  return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclasses.dataclass(frozen=True)
class Download:
  """An intermediate download (not kept): an archive or a parsed source file.

  Attributes:
    url: its public URL.
    sha256: expected SHA-256; None reads it from ``checksums/downloads.sha256``.
  """

  url: str
  sha256: str | None = None

  @property
  def name(self) -> str:
    return self.url.rsplit("/", 1)[-1]

  def expected_sha256(self) -> str:
    return self.sha256 or checksums.download_sums()[self.url]


@dataclasses.dataclass(frozen=True)
class Remote:
  """A file whose bytes are those at ``url``."""

  url: str


@dataclasses.dataclass(frozen=True)
class ZipMember:
  """A file that is member ``member`` of the zip archive ``archive``."""

  archive: Download
  member: str


@dataclasses.dataclass(frozen=True)
class Derived:
  """A file computed locally: ``make(paths of inputs) -> bytes``.

  Attributes:
    inputs: relpaths in the same folder, or intermediate downloads.
    make: the derivation.
    how: one line for SOURCE.txt.
  """

  inputs: tuple[str | Download, ...]
  make: Callable[[list[pathlib.Path]], bytes]
  how: str


Source = Remote | ZipMember | Derived


@dataclasses.dataclass(frozen=True)
class AssetFolder:
  """One asset folder and how to make each of its files.

  Attributes:
    name: folder name under the asset root, e.g. ``"mobilenet_imagenet"``.
    description: what it holds (one line).
    origin: where it comes from, for messages and SOURCE.txt.
    license: the license line for SOURCE.txt.
    source_of: relpath -> how that file is made.
    sums: ``{relpath: sha256}``; None reads ``checksums/<name>.sha256``.
    content_sums: ``{relpath: content digest}`` for npz/gz files; None reads
      ``checksums/content.sha256``.
  """

  name: str
  description: str
  origin: str
  license: str
  source_of: Callable[[str], Source]
  sums: Mapping[str, str] | None = None
  content_sums: Mapping[str, str] | None = None

  def file_sums(self) -> dict[str, str]:
    return dict(self.sums if self.sums is not None else checksums.folder_sums(self.name))

  def content_sum(self, relpath: str) -> str | None:
    if self.content_sums is not None:
      return self.content_sums.get(relpath)
    return checksums.content_sums().get(f"{self.name}/{relpath}")


_CORAL = ("google-coral/test_data", "104342d2d3480b3e66203073dac24f4e2dbb4c41")
_GEIRHOS = ("rgeirhos/texture-vs-shape", "ccd0c01d42c0a8a834e90ec141e7f24fa915dc23")
_NEURAL_STYLE = ("jcjohnson/neural-style", "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46")
_MNIST = ("kelas/mnist", "283b387221ab46655e600cfcc25d843bb14292b9")
# The Fashion-MNIST release files (the commit Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9 packages; same bytes as the release on S3).
_FASHION = ("zalandoresearch/fashion-mnist", "55506a91af88bac38da7169389bdffed53be3621")
_FOOLBOX_WHEEL = Download(
    "https://files.pythonhosted.org/packages/9f/c4/"
    "2343e1accf8cbdba957e1f190ed860969abdd83181531a936626d4d7cfd0/"
    "foolbox-3.3.4-py3-none-any.whl")
_HUMAN_CATEGORIES = Download(github_raw(*_GEIRHOS, "code/helper/human_categories.py"))


def _renamed(repo_commit: tuple[str, str], renames: Mapping[str, str], prefix: str = ""):
  """relpath -> Remote at ``prefix + relpath`` (or the renamed path) in the repository."""
  return lambda rel: Remote(github_raw(*repo_commit, renames.get(rel, prefix + rel)))


def _mobilenet(rel: str) -> Source:
  stem = rel.removesuffix("_dequant_float32.npz")
  if stem != rel:
    return Derived((stem + ".tflite",), lambda paths: derive.mobilenet_npz(paths[0]),
                   f"dequantized from {stem}.tflite: w = scale * (q - zero_point), float32")
  return _renamed(_CORAL, {"imagenet_labels_1001.txt": "imagenet_labels.txt",
                           "LICENSE-Apache-2.0.txt": "LICENSE"})(rel)


def _foolbox(rel: str) -> Source:
  if rel == "LICENSE-foolbox-MIT.txt":
    return ZipMember(_FOOLBOX_WHEEL, "foolbox-3.3.4.dist-info/LICENSE")
  return ZipMember(_FOOLBOX_WHEEL, f"foolbox/data/{rel}")


def _texture_vs_shape(rel: str) -> Source:
  if rel == "geirhos16_imagenet_indices.json":
    return Derived((_HUMAN_CATEGORIES,), lambda paths: derive.geirhos16_indices_json(paths[0]),
                   "the *_indices lists of code/helper/human_categories.py, as JSON")
  if rel.startswith("cue-conflict/"):
    return Remote(github_raw(*_GEIRHOS, "stimuli/style-transfer-preprocessed-512/"
                             + rel.removeprefix("cue-conflict/")))
  return _renamed(_GEIRHOS, {"DATASET_LICENSE-CC-BY-4.0.txt": "DATASET_LICENSE",
                             "imagenet_1000_wnid_names.txt": "code/helper/categories.txt"},
                  prefix="stimuli/")(rel)


FOLDERS: dict[str, AssetFolder] = {folder.name: folder for folder in (
    AssetFolder(
        "mobilenet_imagenet",
        "ImageNet MobileNetV2 1.0/224 and MobileNetV1 0.25/128: .tflite, float32 .npz, "
        "1001 labels",
        f"github.com/{_CORAL[0]} at commit {_CORAL[1]} (repository root)",
        "Apache-2.0 (LICENSE-Apache-2.0.txt)", _mobilenet),
    AssetFolder(
        "sample_images_imagenet",
        "9 photos that MobileNetV2 classifies correctly",
        f"github.com/{_CORAL[0]} at commit {_CORAL[1]} (repository root)",
        "Open Images CC BY 2.0; grace_hopper.bmp public domain "
        "(COPYRIGHT-coral-test_data.txt)",
        _renamed(_CORAL, {"COPYRIGHT-coral-test_data.txt": "COPYRIGHT"})),
    AssetFolder(
        "foolbox_samples",
        "20 labelled images each of ImageNet, CIFAR-10, CIFAR-100, MNIST, Fashion-MNIST",
        "the foolbox==3.3.4 wheel on PyPI (foolbox/data/)",
        "foolbox MIT (LICENSE-foolbox-MIT.txt); images under their datasets' terms",
        _foolbox),
    AssetFolder(
        "mnist_t10k",
        "MNIST test set, 10k, IDX gz",
        f"github.com/{_MNIST[0]} at commit {_MNIST[1]}",
        "CC BY-SA 3.0 (Y. LeCun, C. Cortes)", _renamed(_MNIST, {})),
    AssetFolder(
        "fashion_mnist_t10k",
        "Fashion-MNIST, IDX gz: the test set (10k) and the train set (60k)",
        f"github.com/{_FASHION[0]} at commit {_FASHION[1]} (data/fashion/, the release files)",
        "MIT, (c) 2017 Zalando SE", _renamed(_FASHION, {}, prefix="data/fashion/")),
    AssetFolder(
        "texture_vs_shape_subset",
        "160 Geirhos cue-conflict images + 16-class index map + ImageNet wnid list",
        f"github.com/{_GEIRHOS[0]} at commit {_GEIRHOS[1]}",
        "stimuli CC BY 4.0 (DATASET_LICENSE-CC-BY-4.0.txt)", _texture_vs_shape),
    AssetFolder(
        "style_images",
        "Starry Night, The Scream, Shipwreck, Matisse Woman with a Hat, Tuebingen",
        f"github.com/{_NEURAL_STYLE[0]} at commit {_NEURAL_STYLE[1]} (examples/inputs/)",
        "paintings public domain; tubingen.jpg photo license not verified",
        _renamed(_NEURAL_STYLE, {}, prefix="examples/inputs/")),
)}
