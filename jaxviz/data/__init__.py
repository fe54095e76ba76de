"""Data sources yielding numpy batches; the one place that knows file formats and TFDS."""

from jaxviz.data.idx import batch_indices
from jaxviz.data.idx import Dataset
from jaxviz.data.idx import FASHION_MNIST_CLASSES
from jaxviz.data.idx import idx_search_dirs
from jaxviz.data.idx import load_idx_dataset
from jaxviz.data.idx import MNIST_CLASSES
from jaxviz.data.idx import read_idx
from jaxviz.data.images import IMAGE_EXTENSIONS
from jaxviz.data.images import labelled_images
from jaxviz.data.images import load_image
from jaxviz.data.images import load_image_folder
from jaxviz.data.images import parse_label
from jaxviz.data.marks import add_mark
from jaxviz.data.marks import biased_dataset
from jaxviz.data.marks import CORNERS
from jaxviz.data.marks import mark_region
from jaxviz.data.preprocess import convert_channels
from jaxviz.data.preprocess import prepare_for_model
from jaxviz.data.preprocess import resize
from jaxviz.data.registry import DATASET_NAMES
from jaxviz.data.registry import load_dataset
from jaxviz.data.samples import skimage_image
from jaxviz.data.samples import SKIMAGE_IMAGES
from jaxviz.data.samples import sklearn_digits
from jaxviz.data.tfds_source import load_tfds
from jaxviz.data.tfds_source import TfdsSource

__all__ = (
    "CORNERS",
    "DATASET_NAMES",
    "Dataset",
    "FASHION_MNIST_CLASSES",
    "IMAGE_EXTENSIONS",
    "MNIST_CLASSES",
    "SKIMAGE_IMAGES",
    "TfdsSource",
    "add_mark",
    "batch_indices",
    "biased_dataset",
    "convert_channels",
    "idx_search_dirs",
    "labelled_images",
    "load_dataset",
    "load_idx_dataset",
    "load_image",
    "load_image_folder",
    "load_tfds",
    "mark_region",
    "parse_label",
    "prepare_for_model",
    "read_idx",
    "resize",
    "skimage_image",
    "sklearn_digits",
)
