"""Input gradients: the vanilla saliency of Simonyan et al.

Simonyan, Vedaldi & Zisserman 2013, "Deep Inside Convolutional Networks:
Visualising Image Classification Models and Saliency Maps",
https://arxiv.org/abs/1312.6034 . The attribution of class ``k`` to input
``x`` is ``d S_k / d x`` where ``S_k`` is the class score: the pre-softmax
logit by default (as in the paper), or any per-example ``score_fn(logits)``
such as ``jax.nn.log_softmax``.

One forward pass serves every target: the model is linearised once with
:func:`jax.vjp` and the VJP is vmapped over one-hot cotangents, so asking for
the top-5 classes costs one forward and five (batched) backward passes.
``rule`` swaps the backward pass through rectifiers for deconvnet or guided
backprop (see :mod:`jaxviz.attribution.backward_rules`).

Compilation. A model function ``f`` closes over its parameters. Jitting it
naively bakes the parameters into the compiled program as constants (slow to
compile for large models such as VGG16). :func:`prepare` instead traces ``f``
once per (``f``, rule, input shape) to a jaxpr, hoists the closed-over arrays
out as arguments, and caches the result; the jitted computations take the
parameters as ordinary arguments, so repeated calls with the same shapes
neither re-trace ``f`` nor re-compile. Entries are keyed on the identity of
``f``: build ``f`` once (``functools.partial(model.apply, variables)``) and
reuse it; a fresh ``partial`` per call re-traces every time.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxviz import validation
from jaxviz.attribution import backward_rules

__all__ = ("Prepared", "ScoreFn", "as_targets", "backward_rule_report", "check_logits",
           "input_gradients", "prepare", "prepare_targets", "scored", "validated_input_gradients",
           "vjp_over_targets")

ScoreFn = Callable[[jax.Array], jax.Array]

# Prepared functions kept alive (each holds references to its parameters).
_CACHE_SIZE = 32
_CACHE: collections.OrderedDict = collections.OrderedDict()


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
  """A model function traced once, with its closed-over arrays hoisted out.

  Attributes:
    fn: ``fn(consts, *args)`` computes ``f(*args)`` (with the backward rule
      applied); a stable object, usable as a static argument of ``jax.jit``.
    consts: the arrays ``f`` closes over (its parameters), to pass to ``fn``.
    out_shape: ``f``'s output as a pytree of ``jax.ShapeDtypeStruct``.
    report: the :class:`~jaxviz.attribution.backward_rules.RewriteReport` of
      the rewrite, or ``None`` for ``rule="gradient"`` (nothing rewritten).
  """

  fn: Callable[..., Any]
  consts: tuple[jax.Array, ...]
  out_shape: Any
  report: backward_rules.RewriteReport | None


def _spec(leaf) -> jax.ShapeDtypeStruct:
  return jax.ShapeDtypeStruct(np.shape(leaf), jnp.result_type(leaf))


def prepare(f: Callable[..., Any], rule: str, *example_args: Any) -> Prepared:
  """Traces ``f`` with backward ``rule`` once per argument signature (cached).

  Args:
    f: a JAX callable of array arguments (pytrees of arrays, ``None`` allowed),
      e.g. ``logits = f(x)`` or a layer function ``fn(x, delta)``. Must be
      hashable (functions and ``functools.partial`` objects are).
    rule: ``"gradient"``, ``"guided_backprop"`` or ``"deconvnet"``.
    *example_args: arguments or ``jax.ShapeDtypeStruct`` s giving the shapes.

  Returns:
    A cached :class:`Prepared` for (``f``, ``rule``, argument shapes/dtypes).

  Raises:
    ValueError: unknown ``rule`` or unhashable ``f``.
    backward_rules.NoRectifierError: a non-gradient rule found no rectifier.
  """
  if rule not in backward_rules.RULES:
    raise ValueError(f"Unknown backward rule {rule!r}; expected one of {backward_rules.RULES}.")
  leaves, treedef = jax.tree.flatten(example_args)
  specs = [_spec(leaf) for leaf in leaves]
  key = (f, rule, treedef, tuple((s.shape, s.dtype) for s in specs))
  try:
    hit = _CACHE.get(key)
  except TypeError as e:
    raise ValueError(f"The model function must be hashable, got {type(f).__name__}.") from e
  if hit is not None:
    _CACHE.move_to_end(key)
    return hit

  spec_args = jax.tree.unflatten(treedef, specs)
  if rule == "gradient":
    g, report = f, None
  else:
    g, report = backward_rules.apply_backward_rule(f, rule, *spec_args)
  closed, out_shape = jax.make_jaxpr(g, return_shape=True)(*spec_args)
  out_tree = jax.tree.structure(out_shape)
  jaxpr = closed.jaxpr

  def fn(consts, *args):
    outs = jax.core.eval_jaxpr(jaxpr, consts, *jax.tree.leaves(args))
    return jax.tree.unflatten(out_tree, outs)

  consts = tuple(c if isinstance(c, jax.core.Tracer) else jnp.asarray(c) for c in closed.consts)
  prepared = Prepared(fn=fn, consts=consts, out_shape=out_shape, report=report)
  # A closure over tracers (f built inside a transformation) is not reusable.
  if not any(isinstance(c, jax.core.Tracer) for c in consts):
    _CACHE[key] = prepared
    if len(_CACHE) > _CACHE_SIZE:
      _CACHE.popitem(last=False)
  return prepared


def check_logits(out_shape: Any, batch: int, score_fn: ScoreFn | None = None,
                 *, what: str = "f(x)") -> int:
  """Number of class scores of a model output, validated.

  Args:
    out_shape: ``jax.ShapeDtypeStruct`` of the logits.
    batch: the input batch size B.
    score_fn: optional ``score_fn(logits [B, K]) -> [B, K']``.
    what: how to name the logits in error messages.

  Returns:
    ``K`` (or ``K'`` with ``score_fn``).

  Raises:
    ValueError: logits (or scores) are not ``[B, K]``.
  """
  if not isinstance(out_shape, jax.ShapeDtypeStruct) or len(out_shape.shape) != 2 \
      or out_shape.shape[0] != batch:
    raise ValueError(f"{what} must return logits of shape [B, K] with B={batch}, got "
                     f"{jax.tree.map(lambda s: s.shape, out_shape)}.")
  if score_fn is None:
    return out_shape.shape[1]
  scores = jax.eval_shape(score_fn, out_shape)
  if getattr(scores, "shape", None) is None or len(scores.shape) != 2 \
      or scores.shape[0] != batch:
    raise ValueError(f"score_fn must map logits [B, K] to scores [B, K'] with B={batch}, got "
                     f"{jax.tree.map(lambda s: s.shape, scores)}.")
  return scores.shape[1]


def as_targets(targets: Any, batch: int, num_scores: int) -> tuple[jax.Array, bool]:
  """Validates targets ``[B]`` or ``[B, T]``; returns them as ``[B, T]`` int32.

  Returns:
    ``(targets [B, T], squeeze)`` where ``squeeze`` says the input was ``[B]``.
  """
  if not hasattr(targets, "shape"):
    targets = np.asarray(targets)
  validation.check_targets(targets, batch, num_scores)
  targets = jnp.asarray(targets, jnp.int32)
  squeeze = targets.ndim == 1
  return (targets[:, None] if squeeze else targets), squeeze


def prepare_targets(f: Callable[..., Any], x: jax.typing.ArrayLike, targets: Any, *,
                    rule: str = "gradient", score_fn: ScoreFn | None = None,
                    what: str = "f(x)") -> tuple[Prepared, jax.Array, bool]:
  """The one path from ``(f, x, targets)`` to validated targets, for every method.

  Traces ``f`` once per signature (cached, :func:`prepare`), checks that it
  returns logits ``[B, K]`` (:func:`check_logits`) and that the targets are
  int ``[B]`` or ``[B, T]`` in ``[0, K)`` (:func:`as_targets`).

  Args:
    f: model function ``logits [B, K] = f(x)``.
    x: float inputs [B, H, W, C] (checked by the caller).
    targets: int class indices [B] or [B, T].
    rule: the backward rule to prepare ``f`` with.
    score_fn: optional ``score_fn(logits) -> [B, K']``; targets index its scores.
    what: how to name the logits in error messages.

  Returns:
    ``(prepared, targets [B, T] int32, squeeze)``; ``squeeze`` says the
    targets were ``[B]``.

  Raises:
    ValueError: logits not [B, K], targets of the wrong shape, dtype or range.
  """
  prep = prepare(f, rule, x)
  num_scores = check_logits(prep.out_shape, x.shape[0], score_fn, what=what)
  targets, squeeze = as_targets(targets, x.shape[0], num_scores)
  return prep, targets, squeeze


def vjp_over_targets(vjp: Callable, targets: jax.Array, num_scores: int,
                     dtype) -> Any:
  """Applies ``vjp`` to one one-hot cotangent per target, vmapped.

  Args:
    vjp: the VJP of a function with output [B, K].
    targets: int [B, T].
    num_scores: K.
    dtype: cotangent dtype (the output's).

  Returns:
    ``vjp``'s output with a target axis inserted at axis 1 of every leaf.
  """
  cotangents = jax.nn.one_hot(targets, num_scores, dtype=dtype)  # [B, T, K]
  return jax.vmap(vjp, in_axes=1, out_axes=1)(cotangents)


def scored(logits: jax.Array, score_fn: ScoreFn | None) -> jax.Array:
  """``score_fn(logits)``, or the logits themselves when ``score_fn`` is None."""
  return logits if score_fn is None else score_fn(logits)


@functools.partial(jax.jit, static_argnames=("fn", "score_fn"))
def _input_gradients(fn, consts, x, targets, score_fn):
  scores, vjp = jax.vjp(lambda x: scored(fn(consts, x), score_fn), x)
  (grads,) = vjp_over_targets(vjp, targets, scores.shape[-1], scores.dtype)
  return grads


def input_gradients(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike,
                    targets: jax.typing.ArrayLike, *, rule: str = "gradient",
                    score_fn: ScoreFn | None = None) -> jax.Array:
  """Gradient of class scores w.r.t. the input (Simonyan et al. 2013).

  https://arxiv.org/abs/1312.6034 . With ``rule="deconvnet"``
  (https://arxiv.org/abs/1311.2901) or ``rule="guided_backprop"``
  (https://arxiv.org/abs/1412.6806) the backward pass through every rectifier
  of ``f`` follows that rule instead.

  All targets share one forward pass (one ``jax.vjp``; the VJP is vmapped over
  one-hot cotangents). The gradient of example ``b``'s score is taken w.r.t.
  ``x[b]``; this assumes the examples of a batch do not interact (true for
  inference-mode models).

  Args:
    f: model function ``logits [B, K] = f(x)``, e.g.
      ``functools.partial(model.apply, {"params": params})``. Reuse the same
      object across calls to hit the compilation cache.
    x: float inputs [B, H, W, C] in the model's input space.
    targets: int class indices [B] or [B, T] (e.g. each image's top-5).
    rule: ``"gradient"``, ``"guided_backprop"`` or ``"deconvnet"``.
    score_fn: maps logits [B, K] to the scores [B, K'] to differentiate, e.g.
      ``jax.nn.log_softmax``; default: the logits themselves. Must be
      hashable; reuse the same object to avoid re-compiling.

  Returns:
    Gradients [B, H, W, C] for targets [B], or [B, T, H, W, C] for [B, T].

  Raises:
    ValueError: bad ``x`` (rank, dtype, NaN/Inf), targets of the wrong shape,
      dtype or range, unknown rule, logits not [B, K] (all before any work).
    backward_rules.NoRectifierError: a non-gradient rule found no rectifier.
  """
  validation.check_images(x)
  prep, targets, squeeze = prepare_targets(f, x, targets, rule=rule, score_fn=score_fn)
  grads = validated_input_gradients(prep, x, targets, score_fn)
  return grads[:, 0] if squeeze else grads


def validated_input_gradients(prep: Prepared, x: jax.typing.ArrayLike, targets: jax.Array,
                              score_fn: ScoreFn | None = None) -> jax.Array:
  """:func:`input_gradients` [B, T, H, W, C] from :func:`prepare_targets`' results (no checks)."""
  return _input_gradients(prep.fn, prep.consts, jnp.asarray(x), targets, score_fn)


def backward_rule_report(f: Callable[[jax.Array], jax.Array], x: jax.typing.ArrayLike, *,
                         rule: str = "guided_backprop") -> backward_rules.RewriteReport:
  """How many rectifiers ``rule`` rewrites in ``f`` for inputs shaped like ``x``.

  This is the report of the very rewrite :func:`input_gradients` uses (the
  same cache entry). For ``rule="gradient"`` nothing is rewritten; the counts
  are then those a backward rule would rewrite.

  Args:
    f: model function ``logits = f(x)``.
    x: float inputs [B, H, W, C] (only the shape and dtype are used).
    rule: ``"gradient"``, ``"guided_backprop"`` or ``"deconvnet"``.

  Returns:
    A :class:`~jaxviz.attribution.backward_rules.RewriteReport`.

  Raises:
    ValueError: bad ``x`` or unknown ``rule``.
    backward_rules.NoRectifierError: a non-gradient rule found no rectifier.
  """
  validation.check_images(x, check_finite=False)
  if rule == "gradient":
    return backward_rules.rectifier_count(f, _spec(x))
  return prepare(f, rule, x).report
