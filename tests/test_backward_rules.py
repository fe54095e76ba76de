"""Tests for jaxviz.attribution.backward_rules (deconvnet / guided backprop)."""

import functools
import warnings

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxviz.attribution import backward_rules as br
from jaxviz.models import layers

# --------------------------------------------------------------------------
# Hand-written references: the rules as explicit custom_vjp activations.


def _reference_relu(rule):
  @jax.custom_vjp
  def relu(x):
    return jax.nn.relu(x)

  def fwd(x):
    return jax.nn.relu(x), x

  def bwd(x, g):
    keep = (g > 0) if rule == "deconvnet" else (x > 0) & (g > 0)
    return (jnp.where(keep, g, 0.0),)

  relu.defvjp(fwd, bwd)
  return relu


class _CNN(nn.Module):
  """Small linen CNN with exactly three rectifiers."""

  act: object = nn.relu

  @nn.compact
  def __call__(self, x):
    x = self.act(nn.Conv(4, (3, 3))(x))
    x = self.act(nn.Conv(6, (3, 3), strides=2)(x))
    x = x.mean(axis=(1, 2))
    x = self.act(nn.Dense(8)(x))
    return nn.Dense(3)(x)


def _np_init(module, x, seed):
  """Variables of ``module`` drawn with numpy (no RNG compilation: fast)."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(module.init, jax.random.key(0), x)
  scale = lambda s: 1.0 / np.sqrt(np.prod(s.shape[:-1])) if len(s.shape) > 1 else 0.1
  return jax.tree.map(lambda s: (rng.normal(size=s.shape) * scale(s)).astype(np.float32),
                      shapes)


def _normal(seed, shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.fixture(scope="module")
def cnn():
  x = _normal(0, (2, 8, 8, 3))
  return _np_init(_CNN(), x, 1), x


def _rectifier_sites():
  inner = jax.jit(jax.nn.relu)
  return {
      "relu": jax.nn.relu,
      "maximum_x_0": lambda h: jnp.maximum(h, 0.0),
      "maximum_0_x": lambda h: jnp.maximum(0.0, h),
      "maximum_zeros_like": lambda h: jnp.maximum(h, jnp.zeros_like(h)),
      "maximum_np_zeros": lambda h: jnp.maximum(h, np.zeros(h.shape, np.float32)),
      "nested_jit": jax.jit(lambda h: inner(h) * 1.0),
  }


# --------------------------------------------------------------------------
# Analytic toy: f(x) = w2 . relu(W1 x).

W1 = np.array([[1.0, -1.0, 0.0],
               [2.0, 0.0, 1.0],
               [-1.0, 1.0, 1.0],
               [0.5, 0.5, -1.0]], np.float32)
W2 = np.array([3.0, -2.0, 1.0, 0.5], np.float32)
X = np.array([1.0, 2.0, -0.5], np.float32)  # W1 x = [-1, 1.5, 0.5, 2]: mask [0,1,1,1].


@pytest.mark.parametrize("site", sorted(_rectifier_sites()))
def test_analytic_toy_all_rules(site):
  act = _rectifier_sites()[site]
  f = lambda x: jnp.dot(W2, act(W1 @ x))
  mask = (W1 @ X > 0).astype(np.float32)
  np.testing.assert_array_equal(mask, [0, 1, 1, 1])
  by_hand = {
      "gradient": W1.T @ (mask * W2),                       # W1^T [0, -2, 1, .5]
      "guided_backprop": W1.T @ (mask * (W2 > 0) * W2),     # W1^T [0, 0, 1, .5]
      "deconvnet": W1.T @ np.maximum(W2, 0),                # W1^T [3, 0, 1, .5]
  }
  by_hand["redirected"] = by_hand["gradient"]  # Some plain gradient: nothing redirected.
  np.testing.assert_allclose(by_hand["gradient"], [-4.75, 1.25, -1.5])
  np.testing.assert_allclose(by_hand["guided_backprop"], [-0.75, 1.25, 0.5])
  np.testing.assert_allclose(by_hand["deconvnet"], [2.25, -1.75, 0.5])
  for rule in br.RULES:
    g, report = br.apply_backward_rule(f, rule, X)
    assert report.total == 1, (rule, report)
    np.testing.assert_allclose(jax.grad(g)(X), by_hand[rule], rtol=1e-6, err_msg=rule)
  np.testing.assert_allclose(jax.grad(f)(X), by_hand["gradient"], rtol=1e-6)


def test_report_kind_per_site():
  x = jnp.ones(3)
  expect = {"relu": "relu", "nested_jit": "relu"}
  for site, act in _rectifier_sites().items():
    report = br.rectifier_count(act, x)
    kind = expect.get(site, "maximum_zero")
    assert report == br.RewriteReport(**{kind: 1}), (site, report)


# --------------------------------------------------------------------------
# Invariants.


def test_guided_gradient_is_gated_by_mask_and_sign():
  w1, w2, w3, x = _normal(2, (5, 32)), _normal(3, (32, 6)), _normal(4, (6,)), _normal(5, (5,))

  # d perturbs the relu input, e its output: grad wrt e is the cotangent that
  # arrives at the rectifier, grad wrt d the one that leaves it.
  def f(x, d, e):
    a = jax.nn.relu(x @ w1 + d) + e
    return jax.nn.relu(a @ w2) @ w3

  zeros = jnp.zeros(32)
  h = x @ w1
  for rule in ("guided_backprop", "deconvnet"):
    g, report = br.apply_backward_rule(f, rule, x, zeros, zeros)
    assert report == br.RewriteReport(relu=2)
    g_d, g_e = jax.grad(g, argnums=(1, 2))(x, zeros, zeros)
    if rule == "guided_backprop":
      # Both gating reasons occur, so the check is not vacuous.
      assert jnp.any((h <= 0) & (g_e > 0)) and jnp.any((h > 0) & (g_e < 0))
      expected = jnp.where((h > 0) & (g_e > 0), g_e, 0.0)
      assert jnp.all(g_d[h <= 0] == 0) and jnp.all(g_d[g_e <= 0] == 0)
    else:
      assert jnp.any((h <= 0) & (g_e > 0))
      expected = jnp.maximum(g_e, 0.0)  # Forward mask ignored.
    np.testing.assert_array_equal(g_d, expected)


def test_deconvnet_ignores_forward_mask():
  # For linear layers and rectifiers only, the deconvnet backward pass never
  # looks at the input: W1 relu(W2 relu(w3)) for every x.
  w1, w2, w3, x1 = _normal(6, (4, 16)), _normal(7, (16, 8)), _normal(8, (8,)), _normal(9, (4,))
  f = lambda x: jax.nn.relu(jax.nn.relu(x @ w1) @ w2) @ w3
  x2 = -x1
  assert jnp.any((x1 @ w1 > 0) != (x2 @ w1 > 0))  # The masks differ.

  deconv, _ = br.apply_backward_rule(f, "deconvnet", x1)
  guided, _ = br.apply_backward_rule(f, "guided_backprop", x1)
  analytic = w1 @ jax.nn.relu(w2 @ jax.nn.relu(w3))
  np.testing.assert_allclose(jax.grad(deconv)(x1), analytic, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(jax.grad(deconv)(x2), analytic, rtol=1e-5, atol=1e-6)
  assert not np.allclose(jax.grad(guided)(x1), jax.grad(guided)(x2))


def test_relu6_rule_keeps_clip_for_guided_only():
  x = jnp.array([-1.0, 3.0, 7.0, 0.5, 6.5])
  w = jnp.array([1.0, -1.0, 2.0, 2.0, -1.0])
  f = lambda x: jnp.sum(w * jax.nn.relu6(x))
  expected = {
      "gradient": [0.0, -1.0, 0.0, 2.0, 0.0],
      "guided_backprop": [0.0, 0.0, 0.0, 2.0, 0.0],  # x=7 clipped, g<0 dropped.
      "deconvnet": [1.0, 0.0, 2.0, 2.0, 0.0],        # relu(g), no threshold.
      "redirected": [0.0, -1.0, 0.0, 2.0, 0.0],      # Plain gradient is non-zero.
  }
  for rule in br.RULES:
    g, report = br.apply_backward_rule(f, rule, x)
    assert report == br.RewriteReport(relu6=1)  # Its inner max is not counted.
    np.testing.assert_array_equal(jax.grad(g)(x), expected[rule])


# --------------------------------------------------------------------------
# Models, nesting, control flow.


@pytest.mark.parametrize("rule", ["guided_backprop", "deconvnet"])
def test_flax_cnn_matches_hand_written_rule(cnn, rule):
  variables, x = cnn
  f = functools.partial(_CNN().apply, variables)
  g, report = br.apply_backward_rule(f, rule, x)
  assert report == br.RewriteReport(relu=3)
  f_ref = functools.partial(_CNN(act=_reference_relu(rule)).apply, variables)
  grad = lambda fn: jax.jit(jax.grad(lambda x: fn(x)[:, 1].sum()))(x)
  got = grad(g)
  np.testing.assert_allclose(got, grad(f_ref), rtol=1e-5, atol=1e-7)
  assert not np.allclose(got, grad(f), atol=1e-6)


def test_jaxviz_layers_relu6_and_relu_counts():
  class Net(nn.Module):

    @nn.compact
    def __call__(self, x):
      x = layers.Conv(4, activation="relu6")(x)
      x = layers.Conv(4, activation="relu6", depthwise=True)(x)
      x = layers.Conv(4, activation="relu")(x)
      return layers.Dense(2)(x.mean(axis=(1, 2)))

  x = _normal(10, (1, 6, 6, 3))
  f = functools.partial(Net().apply, _np_init(Net(), x, 11))
  g, report = br.apply_backward_rule(f, "guided_backprop", x)
  assert report == br.RewriteReport(relu=1, relu6=2)
  np.testing.assert_array_equal(g(x), f(x))


def test_shared_nested_jit_counts_each_call_site():
  inner = jax.jit(jax.nn.relu)  # One jaxpr object, two call sites.
  f = jax.jit(lambda x: jnp.sum(inner(inner(x) - 1.0) * jnp.array([1.0, -1.0, 2.0])))
  x = jnp.array([2.0, 3.0, 0.5])
  g, report = br.apply_backward_rule(f, "guided_backprop", x)
  assert report == br.RewriteReport(relu=2)
  # Upstream: incoming [1, -1, 2] gated by (x - 1 > 0) -> [1, 0, 0], then x > 0.
  np.testing.assert_array_equal(jax.grad(g)(x), [1.0, 0.0, 0.0])


def test_mixed_rectifiers_counted():
  def f(x):
    x = jax.nn.relu(x)
    x = jax.nn.relu6(x * 3.0)
    x = jnp.maximum(0.0, x - 4.0)
    return jnp.maximum(x, 1.0)  # Not a rectifier.

  assert br.rectifier_count(f, jnp.ones(3)) == br.RewriteReport(relu=1, relu6=1,
                                                                 maximum_zero=1)
  assert br.rectifier_count(f, jnp.ones(3)).total == 3


def test_scan_body_is_rewritten():
  w = jnp.array([1.0, -2.0, 0.5, 3.0])

  def step(c, _):
    return jax.nn.relu(c) - 0.5, None

  scanned = lambda x: jnp.sum(w * lax.scan(step, x, None, length=3)[0])
  unrolled = lambda x: jnp.sum(w * step(step(step(x, 0)[0], 0)[0], 0)[0])
  x = jnp.array([1.0, 2.0, -1.0, 3.0])
  for rule in ("guided_backprop", "deconvnet"):
    g_scan, report = br.apply_backward_rule(scanned, rule, x)
    g_unrolled, report_unrolled = br.apply_backward_rule(unrolled, rule, x)
    assert report == br.RewriteReport(relu=1)  # Once per traced occurrence.
    assert report_unrolled == br.RewriteReport(relu=3)
    np.testing.assert_allclose(jax.grad(g_scan)(x), jax.grad(g_unrolled)(x))


def test_cond_and_remat_bodies_are_rewritten():
  w = jnp.array([1.0, 1.0, 2.0])
  f_cond = lambda x: jnp.sum(w * lax.cond(x[0] > 0, jax.nn.relu, jax.nn.relu6, x))
  x = jnp.array([1.0, 2.0, 8.0])
  g_cond, report = br.apply_backward_rule(f_cond, "guided_backprop", x)
  assert report == br.RewriteReport(relu=1, relu6=1)  # Both branches traced.
  np.testing.assert_array_equal(jax.grad(g_cond)(x), [1.0, 1.0, 2.0])  # relu branch
  x_neg = x.at[0].set(-1.0)
  np.testing.assert_array_equal(jax.grad(g_cond)(x_neg), [0.0, 1.0, 0.0])  # relu6: 8 clipped

  w = jnp.array([1.0, -1.0, 2.0])
  f_remat = lambda x: jnp.sum(w * jax.checkpoint(jax.nn.relu)(x))
  g_remat, report = br.apply_backward_rule(f_remat, "deconvnet", -x)
  assert report == br.RewriteReport(relu=1)
  np.testing.assert_array_equal(jax.grad(g_remat)(-x), [1.0, 0.0, 2.0])


def test_while_body_is_skipped_and_reported():
  def loop(x):
    return lax.while_loop(lambda c: c[1] < 2, lambda c: (jax.nn.relu(c[0]), c[1] + 1),
                          (x, 0))[0]

  x = jnp.ones(3)
  with pytest.raises(br.NoRectifierError, match="1 skipped"):
    br.apply_backward_rule(loop, "guided_backprop", x)
  with pytest.warns(UserWarning, match="keep the plain gradient"):
    _, report = br.apply_backward_rule(lambda x: jax.nn.relu(loop(x)), "deconvnet", x)
  assert report == br.RewriteReport(relu=1, skipped=1)


def test_custom_derivatives_are_kept_and_not_counted():
  @jax.custom_jvp
  def odd(y):
    return jnp.maximum(y, 0.0)  # Inside a custom rule: not on the backward path.

  odd.defjvp(lambda primals, tangents: (odd(primals[0]), 3.0 * tangents[0]))
  w = jnp.array([1.0, -1.0, 2.0, 1.0])
  f = lambda x: jnp.sum(w * odd(jax.nn.softplus(jax.nn.relu(x))))
  x = jnp.array([1.0, 2.0, 3.0, -1.0])
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    g, report = br.apply_backward_rule(f, "guided_backprop", x)
  assert report == br.RewriteReport(relu=1)
  upstream = 3.0 * w * jax.nn.sigmoid(jax.nn.relu(x))  # Custom jvp and softplus'.
  np.testing.assert_allclose(jax.grad(g)(x), jnp.where((x > 0) & (upstream > 0), upstream, 0.0),
                             rtol=1e-6)


def test_integer_max_is_not_a_rectifier():
  assert br.rectifier_count(lambda n: jnp.maximum(n, 0), jnp.arange(3)).total == 0


# --------------------------------------------------------------------------
# Errors.


def test_no_rectifier_error_on_linear_model():
  w = jnp.ones((3, 2))
  with pytest.raises(br.NoRectifierError, match="no rectifier"):
    br.apply_backward_rule(lambda x: x @ w, "guided_backprop", jnp.ones(3))
  assert issubclass(br.NoRectifierError, ValueError)
  g, report = br.apply_backward_rule(lambda x: x @ w, "gradient", jnp.ones(3))
  assert report.total == 0
  np.testing.assert_array_equal(g(jnp.ones(3)), jnp.full(2, 3.0))


def test_unknown_rule_and_bad_inputs():
  with pytest.raises(ValueError, match="Unknown backward rule 'guided'"):
    br.apply_backward_rule(jax.nn.relu, "guided", jnp.ones(3))
  with pytest.raises(ValueError, match="example argument"):
    br.apply_backward_rule(jax.nn.relu, "deconvnet")
  with pytest.raises(ValueError, match="must be an array"):
    br.apply_backward_rule(lambda x, s: jax.nn.relu(x), "deconvnet", jnp.ones(3), "mode")


def test_gradient_rule_returns_f_unchanged():
  f = lambda x: jnp.sum(jax.nn.relu(x) * jnp.array([1.0, -1.0]))
  g, report = br.apply_backward_rule(f, "gradient", jnp.ones(2))
  assert g is f and report == br.RewriteReport(relu=1)


# --------------------------------------------------------------------------
# Forward identity, pytrees, jit, vmap, re-tracing.


def test_forward_identical_pytree_outputs_and_vjp(cnn):
  variables, x = cnn

  def f(x):
    h = jax.nn.relu(x.reshape(x.shape[0], -1))
    return _CNN().apply(variables, x), {"hidden": h}

  g, report = br.apply_backward_rule(f, "guided_backprop", x)
  assert report == br.RewriteReport(relu=4)
  out_f, out_g = f(x), g(x)
  assert jax.tree.structure(out_f) == jax.tree.structure(out_g)
  jax.tree.map(np.testing.assert_array_equal, out_g, out_f)
  jax.tree.map(np.testing.assert_array_equal, jax.jit(g)(x), jax.jit(f)(x))
  # A cotangent on "hidden" alone flows through one guided relu only.
  vjp = jax.vjp(g, x)[1]
  for sign in (1.0, -1.0):
    (grad_x,) = vjp((jnp.zeros((2, 3)), {"hidden": sign * jnp.ones((2, 192))}))
    np.testing.assert_array_equal(grad_x, (x > 0) * (sign > 0))


def test_jit_vmap_and_retrace_for_new_shapes(cnn):
  variables, x = cnn
  f = functools.partial(_CNN().apply, variables)
  g, _ = br.apply_backward_rule(f, "guided_backprop", x)
  grad_one = jax.jit(jax.grad(lambda xi: g(xi[None])[0, 2]))
  per_example = jnp.stack([grad_one(xi) for xi in x])
  np.testing.assert_allclose(jax.jit(jax.vmap(grad_one))(x), per_example, rtol=1e-5,
                             atol=1e-7)
  batch_grad = jax.jit(jax.grad(lambda x: g(x)[:, 2].sum()))
  np.testing.assert_allclose(batch_grad(x), per_example, rtol=1e-5, atol=1e-7)
  x3 = np.concatenate([x, x[:1]])  # New shape: re-traced lazily.
  np.testing.assert_array_equal(jax.jit(g)(x3), jax.jit(f)(x3))
  np.testing.assert_allclose(batch_grad(x3)[:2], per_example, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------
# The redirected rule (Lucid's redirected ReLU / ReLU6 gradient).


def _plain_and_redirected(f, *args):
  g, report = br.apply_backward_rule(f, "redirected", *args)
  return jax.jit(jax.grad(f))(*args), jax.jit(jax.grad(g))(*args), report


def test_redirected_equals_the_plain_gradient_inside_the_active_range():
  # Random rectifier inputs over [-8, 14] and random signs of the cotangent,
  # rows with and without any plain gradient (the dead rows are redirected).
  x = jnp.asarray(np.random.default_rng(0).uniform(-8, 14, (4, 50)).astype(np.float32))
  x = x.at[2].set(jnp.where(x[2] > 0, x[2] + 6.0, x[2]))  # row 2: dead (no unit in (0, 6))
  w = jnp.asarray(_normal(1, (4, 50)))
  for act, low, high in ((jax.nn.relu6, 0.0, 6.0), (jax.nn.relu, 0.0, np.inf),
                         (lambda h: jnp.maximum(h, 0.0), 0.0, np.inf)):
    plain, redirected, report = _plain_and_redirected(lambda x: jnp.sum(w * act(x)), x)
    assert report.total == 1
    inside = (x > low) & (x < high)
    np.testing.assert_array_equal(redirected[inside], plain[inside])
    if high == 6.0:  # row 2 is dead for ReLU6 only, and is redirected
      assert jnp.all(plain[2] == 0) and jnp.any(redirected[2] != 0)


def test_redirected_relu6_passes_only_pushes_back_into_range_of_dead_examples():
  x = jnp.array([[-1.0, -2.0, 7.0, 8.0, 6.5],      # dead: no unit in (0, 6)
                 [-1.0, -2.0, 7.0, 8.0, 3.0]])     # alive: unit 4 passes gradient
  w = jnp.array([[1.0, -1.0, -2.0, 2.0, 0.5],
                 [1.0, -1.0, -2.0, 2.0, 0.5]])
  plain, redirected, report = _plain_and_redirected(lambda x: jnp.sum(w * jax.nn.relu6(x)), x)
  assert report == br.RewriteReport(relu6=1)
  np.testing.assert_array_equal(plain, [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0.5]])
  # Row 0 under ascent: x=-1 (g=1 pushes up: pass), x=-2 (g=-1 pushes down: drop),
  # x=7 (g=-2 pushes down into range: pass), x=8 (g=2 pushes up: drop), x=6.5 (g>0: drop).
  # Row 1 has some plain gradient: it keeps the plain gradient.
  np.testing.assert_array_equal(redirected, [[1, 0, -2, 0, 0], [0, 0, 0, 0, 0.5]])


def test_redirected_relu_on_a_dead_unit_lets_ascent_take_off():
  # f(x) = relu(a . x - 5) is dead at x = 0: the plain gradient is zero; the
  # redirected one is a (it pushes the unit up), and ascent revives the unit.
  a = jnp.array([1.0, 2.0, -1.0])
  f = lambda x: jax.nn.relu(jnp.dot(a, x) - 5.0)
  plain, redirected, _ = _plain_and_redirected(f, jnp.zeros(3))
  np.testing.assert_array_equal(plain, 0.0)
  np.testing.assert_array_equal(redirected, a)
  g, _ = br.apply_backward_rule(f, "redirected", jnp.zeros(3))
  x = jnp.zeros(3)
  for _ in range(3):
    x = x + jax.grad(g)(x)
  assert f(x) > 0


def test_redirected_is_per_example_under_vmap_and_jit():
  x = jnp.array([[-1.0, -3.0], [-1.0, 2.0]])
  w = jnp.array([1.0, 1.0])
  f = lambda xi: jnp.sum(w * jax.nn.relu6(xi))
  g, _ = br.apply_backward_rule(f, "redirected", x[0])
  per_example = jax.jit(jax.vmap(jax.grad(g)))(x)
  np.testing.assert_array_equal(per_example, [[1.0, 1.0], [0.0, 1.0]])
