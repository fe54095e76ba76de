"""Deconvnet, guided backprop and redirected gradients as a transform of any JAX function.

Deconvnet (Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901) and guided
backpropagation (Springenberg et al. 2014, https://arxiv.org/abs/1412.6806)
differ from the plain gradient only in how the backward pass crosses a
rectifier. Instead of hooking framework modules, :func:`apply_backward_rule`
traces the model function ``f`` with :func:`jax.make_jaxpr` and re-evaluates
the jaxpr with an interpreter that replaces every rectifier by a
:func:`jax.custom_vjp` carrying the rule. The forward pass binds the very same
operation, so forward values are bit-identical to ``f``; only the VJP changes.

Rectifiers recognised (counted once per traced occurrence):

* ``custom_jvp_call`` named ``relu`` (``jax.nn.relu``, ``flax.linen.relu``);
* ``custom_jvp_call`` named ``relu6`` (``jax.nn.relu6``, MobileNet);
* a raw ``max`` with one operand known to be zero: a literal (``jnp.maximum(x,
  0.)``, ``jnp.maximum(0., x)``), a closed-over all-zero constant, or a
  broadcast / reshape / dtype conversion of such a zero (``jnp.zeros_like``).

Backward rules, with ``x`` the rectifier input and ``g`` the incoming
cotangent:

===================  ===========================  ============================
rule                 ReLU / max(x, 0)             ReLU6
===================  ===========================  ============================
``gradient``         ``g * (x > 0)``              ``g * (0 < x < 6)``
``guided_backprop``  ``g * (x > 0) * (g > 0)``    ``g * (0 < x < 6) * (g > 0)``
``deconvnet``        ``relu(g)``                  ``relu(g)``
``redirected``       see below                    see below
===================  ===========================  ============================

Redirected rule (Lucid's redirected ReLU/ReLU6 gradient, ``lucid/misc/
redirected_relu_grad.py``, for feature visualization, Olah et al. 2017,
https://distill.pub/2017/feature-visualization/). A unit that does not fire
passes no gradient, so an ascent that starts where the target unit is dead
never takes off. For every example (axis 0 of the rectifier input when it has
rank >= 2, else the whole array) whose plain gradient at this rectifier is
zero everywhere, the rule instead passes the cotangent wherever the unit is
active *or* the cotangent pushes the unit back into its active range:
``g > 0`` where ``x <= 0``, and (ReLU6) ``g < 0`` where ``x >= 6``; it drops
the cotangent that would push it further out. Examples with some plain
gradient get the plain gradient unchanged. Where the unit is active (``0 < x``,
ReLU6: ``0 < x < 6``) the rule always equals the plain gradient. "Pushes up"
assumes the differentiated scalar is *maximised* (gradient ascent, as in
:mod:`jaxviz.synthesis`; Lucid minimises the negative, hence its opposite
signs). Lucid applies it for the first 16 steps only; the schedule is the
ascent loop's (``redirect_steps``), the rule itself has none.

ReLU6 rationale. Guided backprop is "the gradient, additionally gated by the
sign of the signal", so it keeps the complete forward gate of the plain
gradient, which for ReLU6 includes the upper clip (``x >= 6`` passes no
gradient), and adds ``g > 0``. Deconvnet never consults the forward pass at a
rectifier (it rectifies the reconstruction signal itself), so both thresholds
of ReLU6 are forward gating and are dropped alike: the rule is ``relu(g)``.

Nested structure:

* ``jit``/``pjit``, ``closed_call`` and ``core_call`` bodies are interpreted
  inline (the jit boundary is dropped; jit the returned function instead);
* ``remat``/``checkpoint`` bodies are re-wrapped in :func:`jax.checkpoint`
  with the same ``policy`` and ``prevent_cse``;
* ``scan`` and ``cond`` bodies are re-built with :func:`jax.lax.scan` and
  :func:`jax.lax.switch` around the interpreted body, so rectifiers inside
  them are rewritten too;
* ``custom_jvp_call`` of non-rectifiers and ``custom_vjp_call`` are bound
  unchanged and not looked into: interpreting their bodies would silently
  replace a library's custom derivative (often chosen for numerical
  stability) by the raw derivative of the body, and a ``max(x, 0)`` inside
  such a body is not on the backward path anyway, the custom rule is (e.g.
  ``jax.nn.softplus`` = ``logaddexp(x, 0)`` has one for stability);
* ``while`` loops (not reverse-differentiable) and every other primitive
  that carries a sub-jaxpr (``shard_map``, ...) are bound unchanged; the
  rectifiers inside them are reported as ``skipped`` and a warning is
  issued, because their backward pass silently keeps the plain gradient.

Every ``max(x, 0)`` counts as a rectifier, also where it is part of a
composite activation (``jax.nn.celu`` contains one; ``jax.nn.hard_swish``
calls ``relu6``): the rewrite applies to everything ``f`` traces, and the
report says how many sites it touched.

Shapes. The example arguments define the first trace (and the report). The
returned function re-traces ``f`` lazily for every new combination of argument
tree structure, shapes, dtypes and weak types (an internal cache), so it can be
called, jitted and vmapped with other shapes. All arguments must be arrays
(pytrees of arrays); bind static arguments with :func:`functools.partial`.
Values ``f`` closes over are captured at trace time, like under
:func:`jax.jit`. The rules are VJPs: use reverse mode (``jax.grad``,
``jax.vjp``); forward mode (``jax.jvp``, ``jax.jacfwd``) raises, as for any
:func:`jax.custom_vjp`.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend import core as jcore

RULES = ("gradient", "guided_backprop", "deconvnet", "redirected")

_RECTIFIER_JVP_NAMES = ("relu", "relu6")
_INLINE_CALLS = ("jit", "pjit", "closed_call", "core_call")
_REMAT = ("remat2", "checkpoint", "remat")
_CUSTOM_DERIVATIVES = ("custom_jvp_call", "custom_vjp_call")
# Shape-only ops through which a known-zero operand stays a zero.
_ZERO_PRESERVING = ("broadcast_in_dim", "reshape", "squeeze", "expand_dims",
                    "convert_element_type", "copy", "copy_p")


class NoRectifierError(ValueError):
  """Raised when a non-gradient rule finds no rectifier to rewrite in ``f``."""


@dataclasses.dataclass(frozen=True)
class RewriteReport:
  """How many rectifiers a backward-rule rewrite found.

  Attributes:
    relu: ``custom_jvp_call`` rectifiers named ``relu`` that were rewritten.
    relu6: ``custom_jvp_call`` rectifiers named ``relu6`` that were rewritten.
    maximum_zero: raw ``max(x, 0)`` / ``max(0, x)`` that were rewritten.
    skipped: rectifiers found inside bodies that are bound unchanged
      (``while`` loops, other higher-order primitives such as ``shard_map``);
      their backward pass keeps the plain gradient.
  """

  relu: int = 0
  relu6: int = 0
  maximum_zero: int = 0
  skipped: int = 0

  @property
  def total(self) -> int:
    """Number of rewritten rectifiers (``skipped`` ones are not included)."""
    return self.relu + self.relu6 + self.maximum_zero


# --------------------------------------------------------------------------
# Backward rules.


def _any_per_example(values: jax.Array) -> jax.Array:
  """Whether each example of ``values`` holds a non-zero (axis 0 for rank >= 2), broadcastable."""
  if values.ndim < 2:
    return jnp.any(values != 0)
  flat = values.reshape(values.shape[0], -1)
  return jnp.any(flat != 0, axis=1).reshape((-1,) + (1,) * (values.ndim - 1))


def _redirected(active: jax.Array, pushes_into_range: jax.Array, g: jax.Array) -> jax.Array:
  """The plain gradient, or for examples without any: also the into-range pushes."""
  zeros = jnp.zeros_like(g)
  plain = jnp.where(active, g, zeros)
  redirected = jnp.where(active | pushes_into_range, g, zeros)
  return jnp.where(_any_per_example(plain), plain, redirected)


def _relu_backward(rule: str, x: jax.Array | None, g: jax.Array) -> jax.Array:
  if rule == "redirected":
    return _redirected(x > 0, (x <= 0) & (g > 0), g)
  keep = g > 0 if rule == "deconvnet" else (x > 0) & (g > 0)
  return jnp.where(keep, g, jnp.zeros_like(g))


def _relu6_backward(rule: str, x: jax.Array | None, g: jax.Array) -> jax.Array:
  if rule == "redirected":
    return _redirected((x > 0) & (x < 6), ((x <= 0) & (g > 0)) | ((x >= 6) & (g < 0)), g)
  keep = g > 0 if rule == "deconvnet" else (x > 0) & (x < 6) & (g > 0)
  return jnp.where(keep, g, jnp.zeros_like(g))


def _with_rule(forward: Callable[[jax.Array], jax.Array], backward, rule: str):
  """A custom_vjp of ``forward`` whose VJP is ``backward(rule, x, g)``."""
  needs_x = rule != "deconvnet"

  @jax.custom_vjp
  def rectify(x):
    return forward(x)

  def fwd(x):
    return forward(x), (x if needs_x else None)

  def bwd(x, g):
    return (backward(rule, x, g),)

  rectify.defvjp(fwd, bwd)
  return rectify


# --------------------------------------------------------------------------
# Recognising rectifiers.


def _is_float(aval) -> bool:
  return jnp.issubdtype(aval.dtype, jnp.floating)


def _bind(eqn, invals: Sequence[Any]) -> list:
  params = eqn.primitive.get_bind_params(eqn.params)
  with eqn.ctx.manager:
    out = eqn.primitive.bind(*invals, **params)
  return list(out) if eqn.primitive.multiple_results else [out]


def _jvp_rectifier_kind(eqn) -> str | None:
  """'relu' / 'relu6' for a rectifier custom_jvp_call, else None."""
  if eqn.primitive.name != "custom_jvp_call" or eqn.params.get("num_consts", 0):
    return None
  call = eqn.params["call_jaxpr"]
  debug = getattr(call.jaxpr, "debug_info", None)
  name = getattr(debug, "func_name", None)
  if (name not in _RECTIFIER_JVP_NAMES or len(eqn.invars) != 1
      or len(eqn.outvars) != 1):
    return None
  x_aval, y_aval = eqn.invars[0].aval, eqn.outvars[0].aval
  if not _is_float(x_aval) or x_aval.shape != y_aval.shape:
    return None
  return name


def _concrete_zero(value) -> Any | None:
  """A scalar zero equal to ``value`` if it is a concrete all-zero array."""
  if isinstance(value, jax.core.Tracer):
    return None
  arr = np.asarray(value)
  if arr.size == 0 or not np.all(arr == 0):
    return None
  return arr.reshape(-1)[0]


class _Zeros:
  """Tracks which variables of one jaxpr are known to hold zeros.

  Maps a variable to a concrete numpy scalar zero of its dtype. Constants
  (often the model's parameters) are inspected lazily, only when one is an
  operand of ``max``, so parameters are never copied to the host for this.
  """

  def __init__(self, jaxpr, consts: Sequence[Any]):
    self._consts = dict(zip(jaxpr.constvars, consts))
    self._seed = {}

  def get(self, v) -> Any | None:
    if isinstance(v, jcore.Literal):
      return _concrete_zero(v.val)
    if v in self._consts:
      self._seed[v] = _concrete_zero(self._consts.pop(v))
    return self._seed.get(v)

  def update(self, eqn) -> None:
    if eqn.primitive.name in _ZERO_PRESERVING and len(eqn.outvars) == 1:
      z = self.get(eqn.invars[0])
      if z is not None:
        self._seed[eqn.outvars[0]] = np.asarray(z).astype(eqn.outvars[0].aval.dtype)


def _max_zero_operand(eqn, zeros: _Zeros) -> int | None:
  """Index (0 or 1) of the non-zero operand of a ``max`` against zero."""
  if eqn.primitive.name != "max":
    return None
  z0, z1 = (zeros.get(v) for v in eqn.invars)
  if (z0 is None) == (z1 is None):
    return None
  i = 1 if z0 is not None else 0
  return i if _is_float(eqn.invars[i].aval) else None


def _sub_jaxprs(params) -> list[tuple[Any, Sequence[Any]]]:
  """(jaxpr, consts) for every sub-jaxpr held in an equation's params."""
  found = []
  for value in params.values():
    for item in value if isinstance(value, (tuple, list)) else (value,):
      if isinstance(item, jcore.ClosedJaxpr):
        found.append((item.jaxpr, item.consts))
      elif isinstance(item, jcore.Jaxpr):
        found.append((item, ()))
  return found


def _count_static(jaxpr, consts: Sequence[Any]) -> int:
  """Number of rectifiers anywhere inside ``jaxpr`` (for ``skipped``)."""
  zeros = _Zeros(jaxpr, consts)
  n = 0
  for eqn in jaxpr.eqns:
    if _jvp_rectifier_kind(eqn) is not None or _max_zero_operand(eqn, zeros) is not None:
      n += 1
    elif eqn.primitive.name not in _CUSTOM_DERIVATIVES:
      n += sum(_count_static(j, c) for j, c in _sub_jaxprs(eqn.params))
    zeros.update(eqn)
  return n


# --------------------------------------------------------------------------
# The interpreter.


class _Context:
  """Rule plus a record of rewrites, keyed by equation path.

  Keying by path (indices from the top jaxpr down) counts each traced
  occurrence once even if a body is traced twice (``lax.scan`` may re-trace
  for weak types) or a jaxpr object is shared by two call sites.
  """

  def __init__(self, rule: str):
    self.rule = rule
    self.records: dict[tuple, tuple[str, int]] = {}

  def record(self, path: tuple, kind: str, n: int = 1) -> None:
    self.records[path] = (kind, n)

  def report(self) -> RewriteReport:
    counts = {"relu": 0, "relu6": 0, "maximum_zero": 0, "skipped": 0}
    for kind, n in self.records.values():
      counts[kind] += n
    return RewriteReport(**counts)


def _eval_jaxpr(jaxpr, consts: Sequence[Any], args: Sequence[Any], ctx: _Context,
                path: tuple) -> list:
  env = {}
  zeros = _Zeros(jaxpr, consts)

  def read(v):
    return v.val if isinstance(v, jcore.Literal) else env[v]

  env.update(zip(jaxpr.constvars, consts))
  env.update(zip(jaxpr.invars, args))
  for i, eqn in enumerate(jaxpr.eqns):
    outs = _eval_eqn(eqn, [read(v) for v in eqn.invars], zeros, ctx, path + (i,))
    zeros.update(eqn)
    for v, o in zip(eqn.outvars, outs):
      if not isinstance(v, jcore.DropVar):
        env[v] = o
  return [read(v) for v in jaxpr.outvars]


def _eval_eqn(eqn, invals: list, zeros: _Zeros, ctx: _Context, path: tuple) -> list:
  name = eqn.primitive.name
  params = eqn.params

  kind = _jvp_rectifier_kind(eqn)
  if kind is not None:
    ctx.record(path, kind)
    backward = _relu6_backward if kind == "relu6" else _relu_backward
    rectify = _with_rule(lambda x: _bind(eqn, [x])[0], backward, ctx.rule)
    return [rectify(invals[0])]

  i = _max_zero_operand(eqn, zeros)
  if i is not None:
    if eqn.invars[i].aval.shape != eqn.outvars[0].aval.shape:
      ctx.record(path, "skipped")  # x broadcast against a larger zero.
      return _bind(eqn, invals)
    ctx.record(path, "maximum_zero")
    # A concrete scalar zero: the forward closes over no tracer.
    zero = np.asarray(zeros.get(eqn.invars[1 - i]), eqn.invars[i].aval.dtype)

    def forward(x):
      return lax.max_p.bind(*((x, zero) if i == 0 else (zero, x)))

    return [_with_rule(forward, _relu_backward, ctx.rule)(invals[i])]

  if name in _INLINE_CALLS:
    call = params["jaxpr"] if "jaxpr" in params else params["call_jaxpr"]
    jaxpr, consts = _sub_jaxprs({"call": call})[0]
    return _eval_jaxpr(jaxpr, consts, invals, ctx, path)

  if name in _REMAT:
    body = params["jaxpr"]
    remat = jax.checkpoint(
        lambda *a: _eval_jaxpr(body, (), a, ctx, path),
        prevent_cse=params.get("prevent_cse", True),
        policy=params.get("policy"))
    return list(remat(*invals))

  if name == "scan":
    return _eval_scan(params, invals, ctx, path)

  if name == "cond":
    branches = [
        functools.partial(_eval_branch, br, ctx, path + (b,))
        for b, br in enumerate(params["branches"])
    ]
    return list(lax.switch(invals[0], branches, *invals[1:]))

  if name in _CUSTOM_DERIVATIVES:
    return _bind(eqn, invals)
  skipped = sum(_count_static(j, c) for j, c in _sub_jaxprs(params))
  if skipped:
    ctx.record(path, "skipped", skipped)
  return _bind(eqn, invals)


def _eval_branch(closed, ctx: _Context, path: tuple, *ops) -> list:
  return _eval_jaxpr(closed.jaxpr, closed.consts, ops, ctx, path)


def _eval_scan(params, invals: list, ctx: _Context, path: tuple) -> list:
  n_consts, n_carry = params["num_consts"], params["num_carry"]
  consts = invals[:n_consts]
  init = invals[n_consts:n_consts + n_carry]
  xs = invals[n_consts + n_carry:]
  body = params["jaxpr"]

  def step(carry, x):
    outs = _eval_jaxpr(body.jaxpr, body.consts, [*consts, *carry, *x], ctx, path)
    return outs[:n_carry], outs[n_carry:]

  carry, ys = lax.scan(step, list(init), list(xs), length=params["length"],
                       reverse=params["reverse"], unroll=params["unroll"])
  return [*carry, *ys]


# --------------------------------------------------------------------------
# Tracing and the public API.


def _check_rule(rule: str) -> None:
  if rule not in RULES:
    raise ValueError(f"Unknown backward rule {rule!r}; expected one of {RULES}.")


def _signature(args: tuple, kwargs: dict):
  """(flat leaves, cache key) for a call's arguments."""
  leaves, treedef = jax.tree.flatten((args, kwargs))
  avals = []
  for leaf in leaves:
    try:
      avals.append(jax.typeof(leaf))
    except TypeError as e:
      raise ValueError(
          f"apply_backward_rule: every argument leaf must be an array, got "
          f"{type(leaf).__name__}; bind static arguments with functools.partial."
      ) from e
  key = (treedef, tuple((a.shape, a.dtype, a.weak_type) for a in avals))
  return leaves, key


class _Traced:
  """``f`` traced once for one argument signature."""

  def __init__(self, f: Callable, key):
    treedef, shapes = key
    specs = [jax.ShapeDtypeStruct(s, d, weak_type=w) for s, d, w in shapes]

    def flat_f(*leaves):
      args, kwargs = jax.tree.unflatten(treedef, leaves)
      return f(*args, **kwargs)

    self.closed, out_shape = jax.make_jaxpr(flat_f, return_shape=True)(*specs)
    self.out_tree = jax.tree.structure(out_shape)
    self.specs = specs

  def __call__(self, leaves: Sequence[Any], ctx: _Context):
    outs = _eval_jaxpr(self.closed.jaxpr, self.closed.consts, leaves, ctx, ())
    return jax.tree.unflatten(self.out_tree, outs)

  def report(self) -> RewriteReport:
    ctx = _Context("guided_backprop")  # Counts do not depend on the rule.
    jax.eval_shape(lambda *leaves: self(leaves, ctx), *self.specs)
    return ctx.report()


def _check_inputs(f, example_args) -> None:
  if not callable(f):
    raise ValueError(f"f must be callable, got {type(f).__name__}.")
  if not example_args:
    raise ValueError("At least one example argument is needed to trace f.")


def rectifier_count(f: Callable, *example_args: Any) -> RewriteReport:
  """Counts the rectifiers a backward rule would rewrite in ``f``.

  Args:
    f: any JAX callable, e.g. ``functools.partial(model.apply, variables)``.
    *example_args: arrays (or pytrees of arrays) defining the traced shapes,
      e.g. ``x`` of shape [B, H, W, C].

  Returns:
    A :class:`RewriteReport`; all counts may be zero (no error is raised).
  """
  _check_inputs(f, example_args)
  _, key = _signature(example_args, {})
  return _Traced(f, key).report()


def apply_backward_rule(f: Callable, rule: str,
                        *example_args: Any) -> tuple[Callable, RewriteReport]:
  """Rewrites every rectifier in ``f`` to carry a deconvnet / guided / redirected rule.

  Deconvnet: https://arxiv.org/abs/1311.2901 ; guided backprop:
  https://arxiv.org/abs/1412.6806 ; redirected (Lucid):
  https://distill.pub/2017/feature-visualization/ . See the module docstring
  for the rules.

  Args:
    f: any JAX callable of array arguments, e.g. ``logits = f(x)`` with ``x``
      [B, H, W, C], a Flax ``functools.partial(model.apply, variables)``, or a
      function of several arguments ``f(x, delta)``; outputs may be a pytree
      such as ``(logits, activation)``.
    rule: one of :data:`RULES`. ``"gradient"`` returns ``f`` itself.
    *example_args: example arguments (pytrees of arrays) for the first trace;
      they define the shapes of the report. Later calls with other shapes are
      re-traced lazily and cached.

  Returns:
    ``(g, report)``: ``g`` takes and returns what ``f`` does, with identical
    forward values; its VJP (``jax.grad``/``jax.vjp``) applies the rule at
    every rewritten rectifier. ``g`` is jittable and vmappable. ``report``
    counts the rewritten rectifiers of the example trace.

  Raises:
    ValueError: unknown ``rule``, ``f`` not callable, no example argument, or
      an argument leaf that is not an array.
    NoRectifierError: ``rule != "gradient"`` and no rectifier was rewritten.
  """
  _check_rule(rule)
  _check_inputs(f, example_args)
  _, key = _signature(example_args, {})
  cache = {key: _Traced(f, key)}
  report = cache[key].report()
  if rule == "gradient":
    return f, report
  if report.total == 0:
    raise NoRectifierError(
        f"apply_backward_rule({rule!r}) found no rectifier to rewrite in "
        f"{getattr(f, '__name__', repr(f))}: no jax.nn.relu, jax.nn.relu6 or "
        f"max(x, 0) outside non-rewritable bodies ({report.skipped} skipped "
        f"inside while loops or other higher-order primitives). The {rule} "
        f"result would silently equal the gradient.")
  if report.skipped:
    warnings.warn(
        f"apply_backward_rule({rule!r}): {report.skipped} rectifier(s) inside "
        f"non-rewritable bodies keep the plain gradient ({report}).",
        stacklevel=2)

  @functools.wraps(f)
  def g(*args, **kwargs):
    leaves, call_key = _signature(args, kwargs)
    if call_key not in cache:
      cache[call_key] = _Traced(f, call_key)
    return cache[call_key](leaves, _Context(rule))

  return g, report
