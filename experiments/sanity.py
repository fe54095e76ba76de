"""Cascading model randomization of attribution methods (Adebayo et al. 2018).

https://arxiv.org/abs/1810.03292 . The weights are re-initialised from the
top layer (logits) down, cumulatively; after each step the attribution maps
of the (still fixed) top-1 class of the trained model are compared with the
trained model's maps by Spearman rank correlation of their magnitudes. A
method that explains the model decorrelates as its layers are destroyed; one
that stays correlated (the paper finds this for guided backprop) mostly
reflects the input, not the model.

Methods: ``gradient`` (https://arxiv.org/abs/1312.6034), ``guided_backprop``
(https://arxiv.org/abs/1412.6806), ``grad_cam``
(https://arxiv.org/abs/1610.02391), ``integrated_gradients`` (from a black
image, https://arxiv.org/abs/1703.01365) and ``smoothgrad`` of the gradient
(https://arxiv.org/abs/1706.03825).

Checkpoints. The configured layers are *checkpoints* along the cascade:
randomizing "down to ``expanded_conv_12``" re-initialises every layer from
the logits down to ``expanded_conv_12`` (``expanded_conv_13..15`` included),
as in the paper, even though maps are only computed at the checkpoints. The
layers are grouped so that each checkpoint is one "layer" of
:func:`jaxviz.attribution.sanity.cascading_randomization`.

Compilation. Every method is one module-level jitted function of the
parameters, so the randomized models reuse the trained model's compilation.

python -m experiments.sanity --config=configs/sanity.py --workdir=/tmp/sanity
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
from typing import Any, Mapping, Sequence

import flax.linen as nn
import jax
import numpy as np

from experiments import common
from experiments import inputs as inputs_lib
from jaxviz import attribution
from jaxviz import workdir as wd
from jaxviz.attribution import sanity
from jaxviz.models import taps
from jaxviz.plotting import attribution_extras

LOG = logging.getLogger(__name__)
METHODS = ("gradient", "guided_backprop", "grad_cam", "integrated_gradients", "smoothgrad")


@dataclasses.dataclass(frozen=True, eq=False)
class BoundModel:
  """The model function ``logits = f(x)`` of a Flax model and its params.

  Unlike a ``functools.partial`` it keeps ``model`` and ``params`` visible, so
  the methods below can pass the params to a jitted function as an argument.
  """

  model: nn.Module
  params: Any

  def __call__(self, x):
    return self.model.apply({"params": self.params}, x)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
  """One attribution method with its options (hashable: a static jit argument).

  Attributes:
    name: one of :data:`METHODS`.
    cam_layer: Grad-CAM's layer (a spatial layer name of the model).
    ig_steps: integrated-gradients quadrature nodes.
    smoothgrad_samples: noisy copies averaged by SmoothGrad.
    noise_level: SmoothGrad noise std as a fraction of the image's value range.
    chunk_size: path points / noisy copies evaluated at once.
    seed: SmoothGrad noise seed.
  """

  name: str
  cam_layer: str
  ig_steps: int
  smoothgrad_samples: int
  noise_level: float
  chunk_size: int
  seed: int


@functools.partial(jax.jit, static_argnames=("model", "spec"))
def _attribution(model, params, x, targets, baseline, *, spec):
  """``spec``'s attribution [B, H, W, C] (Grad-CAM: [B, H, W]) of ``model`` with ``params``."""
  f = functools.partial(model.apply, {"params": params})
  if spec.name == "gradient":
    return attribution.input_gradients(f, x, targets)
  if spec.name == "guided_backprop":
    return attribution.input_gradients(f, x, targets, rule="guided_backprop")
  if spec.name == "grad_cam":
    layer_fn = taps.flax_layer_fn(model, {"params": params}, spec.cam_layer)
    return attribution.grad_cam(layer_fn, x, targets)
  if spec.name == "integrated_gradients":
    return attribution.integrated_gradients(
        f, x, targets, baseline=baseline, steps=spec.ig_steps, chunk_size=spec.chunk_size)
  return attribution.smoothgrad(attribution.input_gradients, f, x, targets,
                                key=jax.random.key(spec.seed),
                                num_samples=spec.smoothgrad_samples, noise_level=spec.noise_level,
                                chunk_size=spec.chunk_size)


def method_fn(spec: MethodSpec, baseline: np.ndarray):
  """``method(f, x, targets)`` for :func:`sanity.cascading_randomization` (f a BoundModel)."""

  def method(f: BoundModel, x, targets):
    return _attribution(f.model, f.params, x, targets, baseline, spec=spec)

  return method


def cascade_groups(layers_top_down: Sequence[str],
                   checkpoints: Sequence[str]) -> dict[str, list[str]]:
  """Groups consecutive layers so that each group ends at a checkpoint.

  Args:
    layers_top_down: every parameterised layer, from the logits to the input.
    checkpoints: some of them, in the same order.

  Returns:
    ``{checkpoint: [layers from just below the previous checkpoint down to
    this one]}``, in cascade order; layers below the last checkpoint are in
    no group (never randomized).

  Raises:
    ValueError: unknown, duplicate or out-of-order checkpoints.
  """
  layers_top_down = list(layers_top_down)
  unknown = [c for c in checkpoints if c not in layers_top_down]
  if unknown:
    raise ValueError(f"Unknown layer(s) {unknown}; valid layers (top to bottom): "
                     f"{layers_top_down}.")
  positions = [layers_top_down.index(c) for c in checkpoints]
  if not positions or positions != sorted(set(positions)):
    raise ValueError(f"layers must be distinct and ordered from the top (logits) down, got "
                     f"{list(checkpoints)}; model order: {layers_top_down}.")
  starts = [0] + [p + 1 for p in positions[:-1]]
  return {c: layers_top_down[s:p + 1] for c, s, p in zip(checkpoints, starts, positions)}


def group_params(params: Mapping, groups: Mapping[str, Sequence[str]]) -> dict:
  """``{checkpoint: {layer: params}}`` for the grouped layers, other layers as they are."""
  grouped_layers = {layer for members in groups.values() for layer in members}
  out = {c: {layer: params[layer] for layer in members} for c, members in groups.items()}
  out.update({k: v for k, v in params.items() if k not in grouped_layers})
  return out


def ungroup_params(grouped: Mapping, groups: Mapping[str, Sequence[str]]) -> dict:
  """Inverse of :func:`group_params`."""
  out = {}
  for key, value in grouped.items():
    out.update(value if key in groups else {key: value})
  return out


def undefined_as_none(correlations: Mapping[str, Mapping[str, float]],
                      model_name: str) -> dict[str, dict[str, float | None]]:
  """Correlations for JSON: NaN (every image's map constant) -> None, with a warning."""
  undefined = [(m, c) for m, values in correlations.items() for c, v in values.items()
               if np.isnan(v)]
  if undefined:
    LOG.warning("%s: rank correlation undefined (constant maps) for %s; reported as null.",
                model_name, undefined)
  return {m: {c: None if np.isnan(v) else v for c, v in values.items()}
          for m, values in correlations.items()}


def run_model(name: str, config, workdir: pathlib.Path) -> dict[str, Any]:
  """The cascading randomization test of one model; writes its npz and figures.

  Returns:
    ``{"rank_correlation": {method: {checkpoint: float, or None where every
    image's map is constant (e.g. an all-zero Grad-CAM)}}, "randomized_layers":
    {checkpoint: [layers]}, "images": [{"file", "class"}]}``.
  """
  settings = config[name]
  inputs = inputs_lib.configured_inputs(name, config, workdir, one_per_class=False)
  model, params, meta, x = inputs.model, inputs.params, inputs.meta, inputs.x
  captions, classes, targets = inputs.labelled_names, inputs.class_names, inputs.targets
  variables = {"params": params}
  names = taps.layer_names(model, variables, (1,) + meta.input_shape)
  taps.check_layer_names(model, variables, (1,) + meta.input_shape, [settings.cam_layer])
  groups = cascade_groups([n for n in reversed(names) if n in params], settings.layers)

  baseline = meta.preprocess(np.zeros((1, 1, 1, meta.input_shape[-1]), np.float32))  # black
  methods = {m: method_fn(MethodSpec(
      name=m, cam_layer=settings.cam_layer, ig_steps=settings.ig_steps,
      smoothgrad_samples=settings.smoothgrad_samples, noise_level=config.noise_level,
      chunk_size=config.chunk_size, seed=config.seed), baseline) for m in config.methods}
  LOG.info("%s: cascading randomization of %s on %d images, checkpoints %s", name,
           list(methods), len(x), list(groups))
  correlations, maps = sanity.cascading_randomization(
      lambda grouped: BoundModel(model, ungroup_params(grouped, groups)),
      group_params(params, groups), list(groups), x, targets, methods,
      key=jax.random.key(config.seed), return_maps=True)

  columns = [sanity.ORIGINAL] + list(groups)
  pixels = np.round(meta.deprocess(x) * 255.0).astype(np.uint8)  # the model's channels
  wd.write_npz(workdir / f"sanity_{name}.npz", images=pixels, targets=targets,
               layers=np.asarray(columns),
               **{f"maps_{m}": np.stack([maps[m][c] for c in columns]) for m in methods},
               **{f"rank_correlation_{m}": np.asarray([correlations[m][c] for c in groups])
                  for m in methods})
  # Attribution magnitudes are heavy-tailed: each map is shown clipped at its 99th
  # percentile so that a few extreme pixels do not leave the rest black.
  display = {m: {c: np.asarray(attribution.normalize_maps(v, 99.0)) for c, v in per.items()}
             for m, per in maps.items()}
  for i in range(min(config.num_figures, len(x))):
    fig = attribution_extras.sanity_figure(
        display, correlations, image=pixels, index=i,
        title=f"{name}, {captions[i]}, top-1 {classes[i]}: cascading "
        f"randomization (maps clipped at their 99th percentile; ρ: mean over {len(x)} images)")
    wd.write_figure(workdir / f"sanity_{name}_{i}.png", fig)
  for m in methods:
    LOG.info("%s %s: %s", name, m, {c: round(v, 3) for c, v in correlations[m].items()})
  return {"rank_correlation": undefined_as_none(correlations, name), "randomized_layers": groups,
          "images": [{"file": n, "class": c} for n, c in zip(captions, classes)]}


def run(config, workdir: pathlib.Path) -> dict:
  """Runs the cascading randomization test for every configured model.

  Metrics: ``rank_correlation`` ``{method: {checkpoint: mean Spearman rank
  correlation}}`` of the first (primary) model; ``rank_correlation_by_model``
  ``{model: {method: {checkpoint: value}}}`` for every model;
  ``randomized_layers_by_model`` ``{model: {checkpoint: [layers]}}``;
  ``images_by_model`` ``{model: [{"file", "class"}]}``.
  """
  workdir = pathlib.Path(workdir)
  if not config.models:
    raise ValueError("config.models is empty; name at least one model.")
  missing = [name for name in config.models if name not in config]
  if missing:
    raise ValueError(f"Model(s) {missing} have no settings: add config.<model> (see "
                     "configs/sanity.py).")
  unknown = [m for m in config.methods if m not in METHODS]
  if unknown or not config.methods:
    raise ValueError(f"Unknown or no methods {list(config.methods)}; choose from {METHODS}.")
  results = {name: run_model(name, config, workdir) for name in config.models}
  return {
      "rank_correlation": results[config.models[0]]["rank_correlation"],
      "rank_correlation_by_model": {n: r["rank_correlation"] for n, r in results.items()},
      "randomized_layers_by_model": {n: r["randomized_layers"] for n, r in results.items()},
      "images_by_model": {n: r["images"] for n, r in results.items()},
  }


if __name__ == "__main__":
  common.main(run)
