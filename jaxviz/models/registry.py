"""One entry point for every model jaxviz ships: ``load_model(name, ...)``."""

from __future__ import annotations

import pathlib

PRETRAINED = ("mobilenet_v2", "mobilenet_v1", "vgg16", "vgg19")
TRAINED = ("small_cnn", "linear")
MODEL_NAMES = PRETRAINED + TRAINED


def load_model(name: str, *, path: str | pathlib.Path | None = None, source: str = "npz",
               impl: str = "auto"):
  """Loads a model with its weights.

  Args:
    name: one of :data:`MODEL_NAMES`.
    path: the weight file (MobileNet: optional, found under
      ``$JAXVIZ_DATA_DIR``; VGG: a torchvision/timm ``.safetensors`` file,
      default ``vgg/vgg{16,19}.safetensors`` under ``$JAXVIZ_DATA_DIR``) or,
      for ``small_cnn``/``linear``, the workdir of an ``experiments.train`` run.
    source: MobileNet weight format, ``"npz"`` or ``"tflite"``.
    impl: convolution implementation (``"auto"``, ``"native"``, ``"fast"``).

  Returns:
    ``(model, params, meta)``.

  Raises:
    ValueError: unknown model name (lists the known ones).
  """
  if name in ("mobilenet_v2", "mobilenet_v1"):
    from jaxviz.models import mobilenet_loader  # pylint: disable=g-import-not-at-top
    return mobilenet_loader.load_mobilenet(name, source=source, path=path, impl=impl)
  if name in ("vgg16", "vgg19"):
    from jaxviz.models import vgg  # pylint: disable=g-import-not-at-top
    return vgg.load_vgg_safetensors(path, int(name[3:]), impl=impl)
  if name in TRAINED:
    from jaxviz import checkpoint  # pylint: disable=g-import-not-at-top
    if path is None:
      raise ValueError(f"{name} needs path= to the workdir of an experiments.train run.")
    return checkpoint.load_trained(path)
  raise ValueError(f"Unknown model {name!r}; known models: {list(MODEL_NAMES)}.")
