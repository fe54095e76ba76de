"""The style transfer loop: L-BFGS (optax, zoom line search) or Adam, many styles at once.

Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
Networks", CVPR 2016. One content image and S style images make S
independent problems, solved together: each has its own image, optimiser
state, line search and loss weights, and the step of all of them is one
``vmap`` of the single-problem step, so a batched run gives what S separate
runs give. The images live in the model's input space; Adam's steps are
projected onto ``meta.input_bounds``, L-BFGS runs unconstrained (as
jcjohnson/neural-style) and its result is clipped. What is optimised is the
image or, as a remedy for non-VGG networks, a decorrelated Fourier spectrum
(``config.parameterization``, see :func:`jaxviz.style.image_parameterization`).

The loop is a Python loop over one jitted call that advances every problem
by up to ``config.log_every`` steps (``lax.fori_loop``); between calls it
logs progress with every loss term (:class:`jaxviz.progress.Progress`) and
stops with the step named if a loss is not finite. One compilation per
(extractor, shapes, layers, transform and optimiser settings): the number
of iterations, the initial image and the loss weights are not part of the
compiled program.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxviz import validation
from jaxviz.models.meta import ModelMeta
from jaxviz.progress import Progress
from jaxviz.style import objective
from jaxviz.style import remedies
from jaxviz.style.config import StyleConfig
from jaxviz.style.features import check_extractor_layers
from jaxviz.style.features import FeatureExtractor
from jaxviz.style.init import initial_images

__all__ = ("StyleResult", "style_transfer", "to_uint8")

@dataclasses.dataclass(frozen=True)
class StyleResult:
  """The outcome of :func:`style_transfer` for S styles.

  Attributes:
    images: [S, H, W, C] float32 results in input space, clipped to the bounds.
    pixels: [S, H, W, C] uint8 the same images as 8-bit pixels.
    initial: [S, H, W, C] float32 the starting images.
    loss_start: term -> [S] (:data:`jaxviz.style.objective.TERMS`) of the
      starting images.
    loss_end: term -> [S] of the (clipped) results.
    history: [S, iterations] the total loss of the iterate before each step.
    evaluations: [S] loss evaluations spent (L-BFGS line searches included).
    iterations: steps taken.
    seconds: wall time of the steps (compilation excluded).
    compile_seconds: wall time of the compilation of the loop.
  """

  images: np.ndarray
  pixels: np.ndarray
  initial: np.ndarray
  loss_start: dict[str, np.ndarray]
  loss_end: dict[str, np.ndarray]
  history: np.ndarray
  evaluations: np.ndarray
  iterations: int
  seconds: float
  compile_seconds: float

  @property
  def iterations_per_second(self) -> float:
    """Steps per second of the whole batch (each step advances every style)."""
    return self.iterations / self.seconds if self.seconds > 0 else float("nan")


class _State(NamedTuple):
  params: jax.Array  # [S, 1, ...] each problem's parameters (pixels: [S, 1, H, W, C])
  opt_state: Any
  value: jax.Array  # [S] loss at params
  grad: jax.Array  # like params
  evaluations: jax.Array  # [S] int32


def to_uint8(images: jax.typing.ArrayLike, meta: ModelMeta) -> np.ndarray:
  """Input-space images [..., C] -> uint8 pixels (clipped, rounded)."""
  return np.round(meta.deprocess(np.asarray(images)) * 255.0).astype(np.uint8)


def _optimizer(config: StyleConfig, meta: ModelMeta) -> optax.GradientTransformationExtraArgs:
  if config.optimizer == "lbfgs":
    return optax.lbfgs(memory_size=config.lbfgs_memory, linesearch=optax.scale_by_zoom_linesearch(
        max_linesearch_steps=config.max_linesearch_steps, initial_guess_strategy="one"))
  if config.parameterization == "pixel":  # [C] input units per step of learning_rate pixels.
    step = jnp.asarray(meta.pixel_budget(config.learning_rate))
  else:  # Latent (spectrum) units.
    step = config.learning_rate
  return optax.chain(optax.scale_by_adam(), optax.scale_by_learning_rate(step))


def _value_fn(features, config, meta, param, targets, weights):
  """The total loss of one problem's parameters (targets and weights of that problem)."""

  def value(params):
    x = param.render(params)
    return objective.loss_terms(features, config, meta, x, targets, weights)["total"][0]

  return value


def _problem_targets(targets: objective.Targets) -> objective.Targets:
  """[S, C, C] Gram matrices -> [S, 1, C, C], so that each vmapped problem sees [1, C, C]."""
  return objective.Targets(targets.content, {n: g[:, None] for n, g in targets.grams.items()})


_TARGET_AXES = objective.Targets(None, 0)


def _terms(features, config, meta, images, targets, weights):
  """Loss terms of S images [S, H, W, C] against their own targets: term -> [S]."""

  def one(x, problem_targets, w):
    return {k: v[0] for k, v in objective.loss_terms(
        features, config, meta, x[None], problem_targets, w).items()}

  return jax.vmap(one, in_axes=(0, _TARGET_AXES, 0))(images, targets, weights)


@functools.partial(jax.jit, static_argnames=("features", "config", "meta", "param"))
def _prepare(features, config, meta, param, content, styles, initial, weights):
  """Targets, the loss terms of the initial images and the first optimiser state."""
  targets = _problem_targets(objective.make_targets(features, config, content, styles))
  opt = _optimizer(config, meta)

  def one(x, problem_targets, w):
    params = param.encode(x[None])
    value_fn = _value_fn(features, config, meta, param, problem_targets, w)
    value, grad = jax.value_and_grad(value_fn)(params)
    return _State(params, opt.init(params), value, grad, jnp.ones((), jnp.int32))

  state = jax.vmap(one, in_axes=(0, _TARGET_AXES, 0))(initial, targets, weights)
  # Strong types, as after a step (optax's initial line-search info is weakly typed): the
  # loop then compiles once, not once for the first state and again for the next.
  state = jax.tree.map(lambda v: jnp.asarray(v, v.dtype), state)
  return targets, _terms(features, config, meta, initial, targets, weights), state


@functools.partial(jax.jit, static_argnames=("features", "config", "meta", "param"))
def _current(features, config, meta, param, params, targets, weights):
  """The clipped images [S, H, W, C] of every problem's parameters and their loss terms."""
  low, high = jnp.asarray(param.low), jnp.asarray(param.high)
  images = jnp.clip(jax.vmap(param.render)(params)[:, 0], low, high)
  return images, _terms(features, config, meta, images, targets, weights)


def _step(features, config, meta, param, state: _State, targets, weights) -> _State:
  """One optimiser step of one problem."""
  opt = _optimizer(config, meta)
  value_fn = _value_fn(features, config, meta, param, targets, weights)
  if config.optimizer == "lbfgs":
    updates, opt_state = opt.update(state.grad, state.opt_state, state.params,
                                    value=state.value, grad=state.grad, value_fn=value_fn)
    params = optax.apply_updates(state.params, updates)
    evaluations = optax.tree_utils.tree_get(opt_state, "num_linesearch_steps")
    return _State(params, opt_state, optax.tree_utils.tree_get(opt_state, "value"),
                  optax.tree_utils.tree_get(opt_state, "grad"),
                  state.evaluations + jnp.asarray(evaluations, jnp.int32))
  updates, opt_state = opt.update(state.grad, state.opt_state, state.params)
  params = param.project(optax.apply_updates(state.params, updates))
  value, grad = jax.value_and_grad(value_fn)(params)
  return _State(params, opt_state, value, grad, state.evaluations + 1)


@functools.partial(jax.jit, static_argnames=("features", "config", "meta", "param"),
                   donate_argnames=("state",))
def _advance(features, config, meta, param, state: _State, targets, weights, steps):
  """Up to ``config.log_every`` steps of every problem; ``steps`` (traced) of them are taken.

  Returns:
    ``(state, values)``: values [log_every, S] is the loss before each step
    taken (NaN for steps not taken).
  """
  batched_step = jax.vmap(functools.partial(_step, features, config, meta, param),
                          in_axes=(0, _TARGET_AXES, 0))

  def body(i, carry):
    state, values = carry
    values = values.at[i].set(state.value)
    return batched_step(state, targets, weights), values

  values = jnp.full((config.log_every,) + state.value.shape, jnp.nan, jnp.float32)
  return jax.lax.fori_loop(0, steps, body, (state, values))


def _compiled_config(config: StyleConfig) -> StyleConfig:
  """``config`` without the fields the jitted functions do not read (one compile for all)."""
  return config.replace(iterations=1, content_weight=0.0, style_weight=0.0, tv_weight=0.0,
                        init="content", init_noise=0.0)


def _check_inputs(content, styles, meta: ModelMeta, key) -> None:
  # Rank and dtype first, for the specific messages below; check_in_box checks the values.
  validation.check_images(content, name="content", check_finite=False)
  validation.check_images(styles, name="styles", check_finite=False)
  if content.shape[0] != 1:
    raise ValueError(f"content must hold one image [1, H, W, C], got shape {content.shape}.")
  channels = len(meta.mean)
  if content.shape[-1] != styles.shape[-1]:
    raise ValueError(f"The content image has {content.shape[-1]} channel(s) and the style "
                     f"images {styles.shape[-1]}; convert them to the same channels "
                     f"(jaxviz.data.convert_channels).")
  if content.shape[-1] != channels:
    raise ValueError(f"The model {meta.name!r} takes {channels}-channel inputs, the images have "
                     f"{content.shape[-1]}.")
  validation.check_in_box(content, meta, name="content")
  validation.check_in_box(styles, meta, name="styles")
  validation.check_key(key)


def _loss_weights(config: StyleConfig, loss_weights, count: int) -> jax.Array:
  if loss_weights is None:
    loss_weights = [config.content_weight, config.style_weight, config.tv_weight]
  weights = np.asarray(loss_weights, np.float64)
  if weights.shape not in ((3,), (count, 3)):
    raise ValueError(f"loss_weights must be [3] or [S, 3] = [{count}, 3] (content, style, TV) "
                     f"weights, got shape {weights.shape}.")
  if not np.all(np.isfinite(weights)) or np.any(weights < 0):
    raise ValueError(f"loss_weights must be finite and >= 0, got {weights.tolist()}.")
  return jnp.asarray(np.broadcast_to(weights, (count, 3)), jnp.float32)


def _first_non_finite(values: np.ndarray) -> tuple[int, int] | None:
  bad = ~np.isfinite(values)
  if not bad.any():
    return None
  step, problem = np.argwhere(bad)[0]
  return int(step), int(problem)


def style_transfer(features: FeatureExtractor, content: jax.typing.ArrayLike,
                   styles: jax.typing.ArrayLike, meta: ModelMeta, key: jax.Array,
                   config: StyleConfig, *,
                   loss_weights: Sequence[float] | Sequence[Sequence[float]] | None = None,
                   name: str = "style_transfer") -> StyleResult:
  """Renders one content image in the style of each of S style images.

  Args:
    features: a feature extractor returning every layer of ``config``
      (:class:`jaxviz.style.LayerFeatures` for a Flax model).
    content: [1, H, W, C] the content image in the model's input space.
    styles: [S, Hs, Ws, C] the style images in input space (one size for
      all; it may differ from the content's).
    meta: the model's metadata (input bounds, pixel units).
    key: PRNG key (used by ``init="noise"``).
    config: the problem and optimiser.
    loss_weights: (content, style, TV) weights, [3] for every style or
      [S, 3] one row per style (a weight sweep: repeat the style image);
      default the config's.
    name: prefix of the progress messages.

  Returns:
    A :class:`StyleResult`.

  Raises:
    ValueError: bad images (rank, dtype, NaN/Inf, range, different channel
      counts), a layer the extractor does not return, bad weights or key;
      all before any optimisation.
    FloatingPointError: a loss became NaN or Inf; the message names the step
      and the style.
  """
  content, styles = jnp.asarray(content), jnp.asarray(styles)
  _check_inputs(content, styles, meta, key)
  check_extractor_layers(features, content.shape, config.layers)
  check_extractor_layers(features, styles.shape, config.layers)
  count = styles.shape[0]
  weights = _loss_weights(config, loss_weights, count)
  initial = initial_images(config.init, content, styles, meta, key, config.init_noise)
  iterations, config = config.iterations, _compiled_config(config)

  param = remedies.image_parameterization(config, meta, content.shape[1:])
  targets, loss_start, state = _prepare(features, config, meta, param, content, styles, initial,
                                        weights)
  start = time.perf_counter()
  state, _ = _advance(features, config, meta, param, state, targets, weights, 0)  # Compiles.
  jax.block_until_ready(state)
  compile_seconds = time.perf_counter() - start

  progress = Progress(iterations, "steps", name=name)
  history, done, seconds = [], 0, 0.0
  while done < iterations:
    steps = min(config.log_every, iterations - done)
    start = time.perf_counter()
    state, values = _advance(features, config, meta, param, state, targets, weights, steps)
    values = np.asarray(values[:steps])
    seconds += time.perf_counter() - start
    bad = _first_non_finite(values)
    if bad is not None:
      raise FloatingPointError(
          f"{name}: the loss of style {bad[1]} is {values[bad]} at step {done + bad[0]}; "
          "stopped. Lower the loss weights or the learning rate.")
    history.append(values)
    done += steps
    images, loss_end = _current(features, config, meta, param, state.params, targets, weights)
    progress.update(done, **{term: float(jnp.mean(v)) for term, v in loss_end.items()})

  bad = _first_non_finite(np.asarray(loss_end["total"])[None])
  if bad is not None:
    raise FloatingPointError(f"{name}: the loss of style {bad[1]} is not finite after the "
                             f"last step ({iterations}); stopped.")
  images = np.asarray(images)
  return StyleResult(
      images=images, pixels=to_uint8(images, meta), initial=np.asarray(initial),
      loss_start={k: np.asarray(v) for k, v in loss_start.items()},
      loss_end={k: np.asarray(v) for k, v in loss_end.items()},
      history=np.concatenate(history).T, evaluations=np.asarray(state.evaluations),
      iterations=iterations, seconds=seconds, compile_seconds=compile_seconds)
