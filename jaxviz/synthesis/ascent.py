"""The gradient-ascent loop of input synthesis.

One loop serves class-model visualization (Simonyan et al. 2013,
https://arxiv.org/abs/1312.6034), regularized optimisation (Yosinski et
al. 2015, https://arxiv.org/abs/1506.06579) and feature visualization (Olah
et al. 2017, https://distill.pub/2017/feature-visualization/): render the
parameters (:mod:`~jaxviz.synthesis.parameterizations`), transform the images
at random (:mod:`~jaxviz.synthesis.transforms`), evaluate the objective
(:mod:`~jaxviz.synthesis.objectives`) of every image against its own target,
subtract ``l2_weight * ||x||^2``, step the parameters with optax (Adam or
plain gradient ascent), then apply Yosinski's image-space operators
(:mod:`~jaxviz.synthesis.regularizers`) and the parameterization's
projection.

Per step ``t`` (0-based), for the pixel parameterization ``x = params``:
``x <- x + update(grad)``; ``x <- (1 - decay) x``; if ``blur_every`` and
``t % blur_every == 0``: blur; clip small-norm pixels; clip small-
contribution pixels (with this step's gradient); clip to the valid box
(Yosinski's order; his box clip opens the next step, here it closes this
one, so the returned image is in the box).

Backward pass. For the first ``redirect_steps`` steps the gradient crosses
every rectifier with the ``"redirected"`` rule of
:mod:`jaxviz.attribution.backward_rules` (Lucid's redirected ReLU/ReLU6
gradient: examples whose target unit is dead still get gradient pushing it
into its active range); afterwards the plain gradient. Both are branches of
one compiled step (``lax.cond`` on the step counter).

Compilation and batching. The step is jitted once per configuration (model
function, parameterization, objective, config: all static) and driven by
``lax.scan`` over chunks of ``chunk`` steps; the targets, keys and
parameters are traced, so a new set of classes or channels reuses the
compiled program. The model parameters are hoisted out of the program as
arguments (:func:`jaxviz.attribution.gradients.prepare`). Reuse the same
``fn`` object across calls to hit the cache.

Between chunks the loop brings the per-step objectives to the host,
reports progress (:class:`jaxviz.progress.Progress`) and stops with a
:class:`NonFiniteObjectiveError` naming the first step whose objective is
NaN or Inf.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxviz import validation
from jaxviz.attribution import gradients
from jaxviz.models import taps
from jaxviz.progress import Progress
from jaxviz.synthesis import objectives as objectives_lib
from jaxviz.synthesis import parameterizations as param_lib
from jaxviz.synthesis import regularizers
from jaxviz.synthesis import transforms as transforms_lib

__all__ = ("AscentConfig", "AscentResult", "NonFiniteObjectiveError", "OPTIMIZERS", "ascend")

OPTIMIZERS = ("adam", "sgd")


class NonFiniteObjectiveError(FloatingPointError):
  """The objective became NaN or Inf; ``step`` is the first such step (0-based)."""

  def __init__(self, step: int, images: list[int]):
    super().__init__(f"The objective became non-finite at step {step} (images {images}); "
                     "the loop stopped there. Lower the learning rate or add a penalty.")
    self.step = step
    self.images = images


def _check_fraction(value, name: str, high: float, *, open_high: bool = False) -> float:
  value = validation.check_in_range(value, name, 0.0, high)
  if open_high and value >= high:
    raise ValueError(f"{name} must be < {high:g}, got {value!r}.")
  return value


def _check_learning_rate(value) -> float | tuple[float, ...]:
  values = value if isinstance(value, (tuple, list)) else (value,)
  for v in values:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not (
        np.isfinite(v) and v > 0):
      raise ValueError(f"learning_rate must be a finite number > 0 (or one per channel), "
                       f"got {value!r}.")
  values = tuple(float(v) for v in values)
  return values if isinstance(value, (tuple, list)) else values[0]


@dataclasses.dataclass(frozen=True)
class AscentConfig:
  """Settings of the ascent loop (hashable: part of the compiled configuration).

  Attributes:
    steps: number of ascent steps.
    learning_rate: optax step size; a tuple gives one per image channel
      (pixel parameterizations only, e.g. the converted Yosinski presets).
    optimizer: ``"adam"`` (Lucid) or ``"sgd"`` (plain gradient ascent,
      Simonyan/Yosinski).
    l2_weight: Simonyan's ``lambda`` in ``S_c(x) - lambda ||x||^2``.
    decay: Yosinski's L2 decay rate in [0, 1).
    blur_every: blur every this many steps (0: never).
    blur_sigma: the blur's std in pixels.
    norm_percentile: Yosinski's small-norm clipping percentile (0: off).
    norm_channel_scale: per-channel factors of the pixel norm (units of the
      percentile's norm; see :func:`regularizers.clip_small_norm`).
    contribution_percentile: Yosinski's small-contribution percentile.
    transforms: random transformations of the image inside the objective.
    redirect_steps: steps at the start that use the redirected rectifier
      gradient (0: never).
    chunk: steps per compiled ``lax.scan`` between two progress reports and
      finiteness checks.
  """

  steps: int = 512
  learning_rate: float | tuple[float, ...] = 0.05
  optimizer: str = "adam"
  l2_weight: float = 0.0
  decay: float = 0.0
  blur_every: int = 0
  blur_sigma: float = 0.0
  norm_percentile: float = 0.0
  norm_channel_scale: tuple[float, ...] | float = 1.0
  contribution_percentile: float = 0.0
  transforms: transforms_lib.Transforms = transforms_lib.Transforms()
  redirect_steps: int = 0
  chunk: int = 16

  def __post_init__(self):
    object.__setattr__(self, "steps", validation.check_positive_int(self.steps, "steps"))
    object.__setattr__(self, "chunk", validation.check_positive_int(self.chunk, "chunk"))
    object.__setattr__(self, "learning_rate", _check_learning_rate(self.learning_rate))
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f"Unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}.")
    object.__setattr__(self, "l2_weight",
                       validation.check_non_negative(self.l2_weight, "l2_weight"))
    object.__setattr__(self, "decay", _check_fraction(self.decay, "decay", 1.0, open_high=True))
    for name in ("blur_every", "redirect_steps"):
      object.__setattr__(self, name,
                         validation.check_non_negative_int(getattr(self, name), name))
    object.__setattr__(self, "blur_sigma",
                       validation.check_non_negative(self.blur_sigma, "blur_sigma"))
    for name in ("norm_percentile", "contribution_percentile"):
      object.__setattr__(self, name, _check_fraction(getattr(self, name), name, 100.0))
    scale = self.norm_channel_scale
    scale = tuple(float(s) for s in scale) if isinstance(scale, (tuple, list)) else float(scale)
    object.__setattr__(self, "norm_channel_scale", scale)
    if not isinstance(self.transforms, transforms_lib.Transforms):
      raise ValueError(f"transforms must be a Transforms, got {type(self.transforms).__name__}.")

  @property
  def uses_image_operators(self) -> bool:
    """Whether a Yosinski operator edits the image after each step."""
    return bool(self.decay or (self.blur_every and self.blur_sigma) or self.norm_percentile
                or self.contribution_percentile)

  def replace(self, **changes) -> "AscentConfig":
    return dataclasses.replace(self, **changes)


class AscentResult(NamedTuple):
  """What :func:`ascend` returns.

  Attributes:
    images: float32 [B, H, W, C], the final renderings (model input space,
      inside the valid box).
    params: the final parameters.
    objective: float32 [steps, B], each step's objective per image (on that
      step's transformed images, before the update; without the L2 penalty).
  """

  images: jax.Array
  params: Any
  objective: np.ndarray


class _State(NamedTuple):
  params: Any
  opt_state: Any
  step: jax.Array
  key: jax.Array


def _optimizer(config: AscentConfig) -> optax.GradientTransformation:
  rate = config.learning_rate
  rate = jnp.asarray(rate, jnp.float32) if isinstance(rate, tuple) else rate
  return optax.adam(rate) if config.optimizer == "adam" else optax.sgd(rate)


def _objective_and_images(params, fn, consts, key, targets, param, objective, config):
  images = param.render(params)
  low, high = (jnp.asarray(b, jnp.float32) for b in (param.low, param.high))
  seen = config.transforms(key, images, low, high)
  logits, activation = fn(consts, seen, None)
  values = jax.vmap(objective)(logits, activation, targets)
  penalty = config.l2_weight * regularizers.l2_penalty(images) if config.l2_weight else 0.0
  return jnp.sum(values - penalty), values


def _image_operators(images, grads, step, config: AscentConfig):
  if config.decay:
    images = regularizers.decay(images, config.decay)
  if config.blur_every and config.blur_sigma:
    images = lax.cond(step % config.blur_every == 0,
                      lambda x: regularizers.gaussian_blur(x, config.blur_sigma),
                      lambda x: x, images)
  if config.norm_percentile:
    images = regularizers.clip_small_norm(images, config.norm_percentile,
                                          config.norm_channel_scale)
  if config.contribution_percentile:
    images = regularizers.clip_small_contribution(images, grads,
                                                  config.contribution_percentile)
  return images


def _step(state: _State, targets, consts, redirect_consts, *, fn, redirect_fn, param,
          objective, config):
  key = jax.random.fold_in(state.key, state.step)
  value_and_grad = jax.value_and_grad(_objective_and_images, has_aux=True)

  def plain(params):
    return value_and_grad(params, fn, consts, key, targets, param, objective, config)

  if redirect_fn is None:
    (_, values), grads = plain(state.params)
  else:
    def redirected(params):
      return value_and_grad(params, redirect_fn, redirect_consts, key, targets, param,
                            objective, config)

    (_, values), grads = lax.cond(state.step < config.redirect_steps, redirected, plain,
                                  state.params)
  ascent = jax.tree.map(jnp.negative, grads)  # optax minimises
  updates, opt_state = _optimizer(config).update(ascent, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  if config.uses_image_operators:
    params = _image_operators(params, grads, state.step, config)
  params = param.project(params)
  return _State(params, opt_state, state.step + 1, state.key), values


@functools.partial(jax.jit, static_argnames=("fn", "redirect_fn", "param", "objective",
                                             "config"))
def _run_chunk(state: _State, targets, consts, redirect_consts, *, fn, redirect_fn, param,
               objective, config):
  step = functools.partial(_step, targets=targets, consts=consts,
                           redirect_consts=redirect_consts, fn=fn, redirect_fn=redirect_fn,
                           param=param, objective=objective, config=config)

  def body(state, _):
    def skip(state):
      return state, jnp.zeros((param.shape[0],), jnp.float32)

    return lax.cond(state.step < config.steps, step, skip, state)

  return lax.scan(body, state, None, length=config.chunk)


@functools.partial(jax.jit, static_argnames=("param", "config"))
def _init(key, *, param, config):
  params = param.init(key)
  return _State(params, _optimizer(config).init(params), jnp.zeros((), jnp.int32), key)


@functools.partial(jax.jit, static_argnames=("param",))
def _render(params, *, param):
  return param.render(params)


def _check_setup(fn, param, objective, config, targets):
  """Shapes and ranges, before any work.

  Returns:
    ``(targets [B] int32, the transformed images' shape as a ShapeDtypeStruct)``.
  """
  if not isinstance(param, (param_lib.PixelParameterization,
                            param_lib.FourierParameterization)):
    raise ValueError(f"parameterization must be a PixelParameterization or "
                     f"FourierParameterization, got {type(param).__name__}.")
  if not isinstance(objective, objectives_lib.Objective):
    raise ValueError(f"objective must be an Objective, got {type(objective).__name__}.")
  if not isinstance(config, AscentConfig):
    raise ValueError(f"config must be an AscentConfig, got {type(config).__name__}.")
  is_image = isinstance(param, param_lib.PixelParameterization) and param.squash == "clip"
  if config.uses_image_operators and not is_image:
    raise ValueError("Yosinski's image operators (decay, blur, small-norm and small-"
                     "contribution clipping) edit the image itself: they need the pixel "
                     "parameterization with squash='clip'.")
  if isinstance(config.learning_rate, tuple) and (
      not isinstance(param, param_lib.PixelParameterization)
      or len(config.learning_rate) != param.shape[3]):
    raise ValueError(f"A per-channel learning_rate needs a pixel parameterization with "
                     f"{len(config.learning_rate)} channels, got {param}.")
  seen = jax.ShapeDtypeStruct(config.transforms.output_shape(param.shape), jnp.float32)
  try:
    out = gradients.prepare(fn, "gradient", seen, None).out_shape
  except taps.UnknownLayerError:
    raise
  except (TypeError, ValueError) as e:
    raise ValueError(f"The model does not accept images of shape {seen.shape} (the "
                     f"parameterization's {param.shape} after the transforms): {e}") from e
  logits, activation = taps.check_layer_output(out, seen.shape[0])
  objective.check_source(activation.shape)
  targets = np.asarray(targets)
  if targets.ndim != 1:
    raise ValueError(f"targets must have shape [B] (one per image), got {targets.shape}.")
  validation.check_targets(targets, param.shape[0],
                           objective.target_axis_size(logits.shape, activation.shape),
                           name="targets (logit indices)" if objective.reads_logits
                           else "targets (channels)")
  return jnp.asarray(targets, jnp.int32), seen


def ascend(fn: taps.LayerFn, objective: objectives_lib.Objective, targets,
           parameterization, key: jax.Array, config: AscentConfig = AscentConfig(), *,
           name: str = "synthesis", progress_seconds: float = 10.0) -> AscentResult:
  """Gradient ascent of ``objective`` for every image of ``parameterization``.

  Args:
    fn: a layer function ``fn(x, delta) -> (logits, activation)``, e.g.
      ``objectives.layer_fn(model, variables, "expanded_conv_5", shape)``
      (``layer=None`` for class objectives). Reuse the same object across
      calls: it keys the compilation cache.
    objective: what to maximise per image.
    targets: int [B], one logit index (class objectives; for MobileNet
      ``meta.logit_index(classes)``) or channel per image.
    parameterization: a :mod:`~jaxviz.synthesis.parameterizations` object of
      batch B.
    key: PRNG key of the initialisation and of every step's transforms; the
      same key gives the same images.
    config: the loop's settings.
    name: the progress messages' prefix.
    progress_seconds: the shortest interval between progress messages.

  Returns:
    An :class:`AscentResult`.

  Raises:
    ValueError: a bad argument, an unknown layer (listing the valid ones), a
      target out of range, an image shape the model does not accept, or
      operators that the parameterization cannot take; all before any work.
    NonFiniteObjectiveError: the objective became NaN or Inf (names the step).
  """
  validation.check_key(key)
  targets, seen = _check_setup(fn, parameterization, objective, config, targets)
  plain = gradients.prepare(fn, "gradient", seen, None)
  redirect = gradients.prepare(fn, "redirected", seen, None) if config.redirect_steps else None
  statics = dict(fn=plain.fn, redirect_fn=redirect.fn if redirect else None,
                 param=parameterization, objective=objective, config=config)
  state = _init(key, param=parameterization, config=config)
  progress = Progress(config.steps, "steps", name=name, every_seconds=progress_seconds)
  history = []
  while len(history) < config.steps:
    state, values = _run_chunk(state, targets, plain.consts,
                               redirect.consts if redirect else (), **statics)
    values = np.asarray(values)[:config.steps - len(history)]
    bad = ~np.isfinite(values)
    if bad.any():
      row = int(np.argmax(bad.any(axis=1)))
      raise NonFiniteObjectiveError(len(history) + row, np.flatnonzero(bad[row]).tolist())
    history.extend(values)
    progress.update(len(history), objective=float(values[-1].mean()))
  images = _render(state.params, param=parameterization)
  return AscentResult(images, state.params, np.stack(history).astype(np.float32))
