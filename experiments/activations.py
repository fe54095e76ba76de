"""Feature maps and top-activating inputs (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901).

Feature maps of the trained small CNN for one test image and of MobileNetV2
for a sample photo (a shallow and a deeper layer), then, for chosen channels
of small-CNN conv layers, the test images (and receptive-field patches)
that activate them most.

python -m experiments.activations --config=configs/activations.py --workdir=/tmp/activations
"""

from __future__ import annotations

import logging
import pathlib

import jax
import numpy as np

from experiments import common
from experiments import inputs
from jaxviz import assets
from jaxviz import data
from jaxviz import workdir as wd
from jaxviz.inspect import features
from jaxviz.inspect import top_activations
from jaxviz.models import registry
from jaxviz.models import taps
from jaxviz.plotting import inspect_plots

LOG = logging.getLogger(__name__)

def _maps_figure(act: np.ndarray, num_channels: int, image: np.ndarray, title: str):
  """Feature-map figure of one image's activations; spatial layers show the most active channels."""
  if act.ndim == 3:
    channels = np.sort(features.most_active_channels(act, num_channels))
    title = f"{title}: {len(channels)} most active of {act.shape[-1]} channels"
    return inspect_plots.feature_map_figure(act[..., channels], channels, title=title,
                                            image=image)
  return inspect_plots.feature_map_figure(act, title=f"{title}: {act.shape[-1]} units "
                                          "(dense layer: stem plot)", image=image)


def _mobilenet_maps(config, workdir: pathlib.Path) -> dict:
  try:
    model, params, meta = registry.load_model("mobilenet_v2",
                                              path=config.mobilenet_weights or None)
    photo_path = pathlib.Path(config.photo).expanduser()
    if not photo_path.is_file():
      photo_path = assets.find_asset(config.photo)
  except assets.AssetNotFoundError as e:
    LOG.warning("Skipping the MobileNetV2 feature maps: %s", e)
    return {"status": f"skipped: {e}"}
  variables = {"params": params}
  layers = list(config.mobilenet_layers)
  x = data.prepare_for_model([data.load_image(photo_path)], meta)
  acts = taps.activations(model, variables, x, layers + ["Logits"])
  logits = np.asarray(acts.pop("Logits")).reshape(1, -1)
  top1 = int(inputs.top1_targets(logits, meta)[0])
  arrays = {"mobilenet_input": x}
  shapes = {}
  for layer in layers:
    act = np.asarray(acts[layer][0])
    arrays[f"mobilenet_{inputs.file_stem(layer)}"] = act
    shapes[layer] = list(act.shape)
    fig = _maps_figure(act, config.mobilenet_channels, meta.deprocess(x[0]),
                       f"MobileNetV2 {layer} {act.shape[:-1]} on {photo_path.name}")
    wd.write_figure(workdir / f"mobilenet_maps_{inputs.file_stem(layer)}.png", fig)
  wd.write_npz(workdir / "mobilenet_feature_maps.npz", **arrays)
  return {"status": "ok", "photo": photo_path.name,
          "top1": meta.class_names[int(meta.class_index([top1])[0])], "layer_shapes": shapes}


def run(config, workdir: pathlib.Path) -> dict:
  """Writes feature-map and top-activation figures with their npz files.

  Metrics: ``receptive_fields`` per top layer (``size``, ``stride``,
  ``offset``), ``top_values`` (per layer, per channel, the k largest
  activations), ``num_images_searched``, ``cnn_layer_shapes`` and
  ``mobilenet`` (``status`` "ok" with the photo's top-1 class, or
  "skipped: <reason>").
  """
  workdir = pathlib.Path(workdir)
  model, params, meta = inputs.trained_small_model(config.cnn_train, config.cnn_workdir,
                                                   workdir, "cnn")
  variables = {"params": params}
  test = inputs.load_test_split(config.cnn_train, config.max_images)
  if not 0 <= config.image_index < len(test):
    raise ValueError(f"image_index {config.image_index} out of range for {len(test)} images.")
  cnn_layers, top_layers = list(config.cnn_layers), list(config.top_layers)
  taps.check_layer_names(model, variables, (1,) + meta.input_shape, cnn_layers + top_layers)

  x = meta.preprocess(test.images[config.image_index][None])
  acts = taps.activations(model, variables, x, cnn_layers)
  label = test.class_names[test.labels[config.image_index]]
  arrays = {"cnn_input": x}
  for layer in cnn_layers:
    act = np.asarray(acts[layer][0])
    arrays[f"cnn_{inputs.file_stem(layer)}"] = act
    fig = _maps_figure(act, config.num_channels, meta.deprocess(x[0]),
                       f"Small CNN {layer} on test image {config.image_index} ({label})")
    wd.write_figure(workdir / f"cnn_maps_{inputs.file_stem(layer)}.png", fig)
  wd.write_npz(workdir / "cnn_feature_maps.npz", **arrays)

  fields, top_values = {}, {}
  for layer in top_layers:
    found = top_activations.top_activating_inputs(
        model, variables, test.images, layer, config.top_channels, k=config.top_k,
        batch_size=config.batch_size, preprocess=meta.preprocess, key=jax.random.key(config.seed))
    f = found.field
    fields[layer] = {"size": list(f.size), "stride": list(f.stride), "offset": list(f.offset)}
    top_values[layer] = {str(c): v.tolist() for c, v in zip(found.channels, found.values)}
    fig = inspect_plots.top_activations_figure(
        test.images[found.image_indices] / 255.0, found.boxes, found.patches / 255.0,
        found.channels, found.values,
        title=f"Small CNN {layer}: top-{config.top_k} of {len(test)} {test.name} images per "
        f"channel (receptive field {f.size[0]}x{f.size[1]}, stride {f.stride[0]})")
    wd.write_figure(workdir / f"top_activations_{inputs.file_stem(layer)}.png", fig)
    wd.write_npz(workdir / f"top_activations_{inputs.file_stem(layer)}.npz", channels=found.channels,
                 values=found.values, image_indices=found.image_indices,
                 positions=found.positions, boxes=found.boxes, patches=found.patches,
                 labels=test.labels[found.image_indices], field_size=f.size,
                 field_stride=f.stride, field_offset=f.offset)
    LOG.info("%s: receptive field %s; top values %s", layer, f, found.values[:, 0])

  mobilenet = _mobilenet_maps(config, workdir) if config.mobilenet else {
      "status": "skipped: disabled in the config"}
  return {
      "receptive_fields": fields,
      "top_values": top_values,
      "num_images_searched": len(test),
      "cnn_layer_shapes": {k: list(v.shape[1:]) for k, v in acts.items()},
      "mobilenet": mobilenet,
  }


if __name__ == "__main__":
  common.main(run)
