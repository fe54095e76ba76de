"""Tests for jaxviz.attribution.sanity and its figure."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import scipy.stats

from jaxviz.attribution.sanity import cascading_randomization
from jaxviz.attribution.sanity import independent_randomization
from jaxviz.attribution.sanity import randomize_layer
from jaxviz.attribution.sanity import reduce_map
from jaxviz.attribution.sanity import spearman_rank_correlation
from jaxviz.plotting.attribution_extras import sanity_figure

LAYERS = ["logits", "hidden2", "hidden1"]  # Top to bottom.
X = jax.random.uniform(jax.random.PRNGKey(0), (4, 12, 12, 1))
TARGETS = jnp.array([0, 1, 2, 1])
KEY = jax.random.PRNGKey(42)


def _params():
  keys = jax.random.split(jax.random.PRNGKey(1), 3)
  sizes = {"hidden1": (144, 32), "hidden2": (32, 16), "logits": (16, 3)}
  return {name: {"kernel": jax.random.normal(k, shape) / np.sqrt(shape[0]),
                 "bias": jnp.full(shape[1], 0.1)}
          for k, (name, shape) in zip(keys, sizes.items())}


PARAMS = _params()


def build_f(params):
  def f(x):
    h = x.reshape(x.shape[0], -1)
    h = jax.nn.relu(h @ params["hidden1"]["kernel"] + params["hidden1"]["bias"])
    h = jax.nn.relu(h @ params["hidden2"]["kernel"] + params["hidden2"]["bias"])
    return h @ params["logits"]["kernel"] + params["logits"]["bias"]
  return f


def gradient(f, x, targets):
  return jax.grad(lambda x: jnp.sum(jnp.take_along_axis(f(x), targets[:, None], 1)))(x)


def edge_detector(f, x, targets):
  """Ignores the model: the map the paper shows passing no sanity check."""
  del f, targets
  return jnp.abs(x[:, 1:, :-1] - x[:, :-1, :-1]) + jnp.abs(x[:, :-1, 1:] - x[:, :-1, :-1])


METHODS = {"gradient": gradient, "edge": edge_detector}


def test_spearman_matches_scipy_with_and_without_ties():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(5, 6, 7))
  b = a + rng.normal(size=a.shape)
  a_ties, b_ties = np.round(a, 0), np.round(b, 0)  # Many ties.
  for x, y in ((a, b), (a_ties, b_ties)):
    ours = np.asarray(spearman_rank_correlation(x, y))
    ref = [scipy.stats.spearmanr(x[i].ravel(), y[i].ravel()).statistic for i in range(5)]
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(spearman_rank_correlation(a, np.exp(a)), 1.0, rtol=1e-6)
  np.testing.assert_allclose(spearman_rank_correlation(a, -a**3), -1.0, rtol=1e-6)
  with pytest.raises(ValueError, match="same shape"):
    spearman_rank_correlation(a, b[:, :3])


def test_reduce_map():
  attr = jnp.array([[[[1.0, -3.0], [0.5, 0.2]]]])  # [1, 1, 2, 2]
  np.testing.assert_allclose(reduce_map(attr), [[[3.0, 0.5]]])
  np.testing.assert_allclose(reduce_map(attr, absolute=False), [[[-3.0, 0.5]]])
  np.testing.assert_allclose(reduce_map(attr[..., 1], absolute=True), [[[3.0, 0.2]]])
  with pytest.raises(ValueError, match=r"\[B, H, W, C\] or \[B, H, W\]"):
    reduce_map(jnp.ones((2, 3)))


def test_randomize_layer_matches_std_and_keeps_structure():
  layer = {"kernel": 0.05 * jax.random.normal(jax.random.PRNGKey(3), (100, 60)) + 0.2,
           "bias": jnp.zeros(60), "step": jnp.arange(3)}
  new = randomize_layer(layer, KEY)
  assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(layer)
  for name in layer:
    assert new[name].shape == layer[name].shape and new[name].dtype == layer[name].dtype
  np.testing.assert_allclose(jnp.std(new["kernel"]), 0.05, rtol=0.05)
  assert abs(float(jnp.mean(new["kernel"]))) < 0.01  # Zero mean, not the original 0.2.
  np.testing.assert_array_equal(new["bias"], 0.0)
  np.testing.assert_array_equal(new["step"], layer["step"])
  big = randomize_layer({"w": jnp.ones((70000,)).at[::2].set(-1.0)}, KEY)["w"]  # > 1 block.
  np.testing.assert_allclose(jnp.std(big), 1.0, rtol=0.02)
  assert not np.allclose(big[:1000], big[65536:66536])
  assert not np.allclose(randomize_layer(layer, jax.random.PRNGKey(7))["kernel"], new["kernel"])


def _recording_build_f(calls):
  def build(params):
    calls.append({name for name in LAYERS
                  if not np.array_equal(params[name]["kernel"], PARAMS[name]["kernel"])})
    return build_f(params)
  return build


def test_cascading_and_independent_randomize_the_right_layers():
  calls = []
  cascading_randomization(_recording_build_f(calls), PARAMS, LAYERS, X, TARGETS,
                          {"gradient": gradient}, key=KEY)
  assert calls == [set(), {"logits"}, {"logits", "hidden2"}, set(LAYERS)]
  calls.clear()
  independent_randomization(_recording_build_f(calls), PARAMS, LAYERS, X, TARGETS,
                            {"gradient": gradient}, key=KEY)
  assert calls == [set(), {"logits"}, {"hidden2"}, {"hidden1"}]


def test_model_dependent_maps_decorrelate_and_model_independent_ones_do_not():
  correlations, maps = cascading_randomization(build_f, PARAMS, LAYERS, X, TARGETS, METHODS,
                                               key=KEY, return_maps=True)
  assert list(correlations) == ["gradient", "edge"]
  assert list(correlations["gradient"]) == LAYERS
  assert all(isinstance(v, float) for v in correlations["gradient"].values())
  np.testing.assert_allclose(list(correlations["edge"].values()), 1.0, rtol=1e-6)
  # Fully random weights give an unrelated gradient map (|rho| ~ 1/sqrt(144)).
  assert abs(correlations["gradient"]["hidden1"]) < 0.3
  assert list(maps["gradient"]) == ["original"] + LAYERS
  np.testing.assert_allclose(maps["gradient"]["original"],
                             reduce_map(gradient(build_f(PARAMS), X, TARGETS)), rtol=1e-6)
  assert maps["edge"]["hidden2"].shape == (4, 11, 11)


def test_signed_comparison_keeps_signs():
  _, maps = independent_randomization(build_f, PARAMS, LAYERS[:1], X, TARGETS,
                                      {"gradient": gradient}, key=KEY, absolute=False,
                                      return_maps=True)
  assert maps["gradient"]["original"].min() < 0 < maps["gradient"]["original"].max()


def test_images_with_constant_maps_are_left_out_of_the_mean():
  def first_image_blank(f, x, targets):
    return gradient(f, x, targets) * (jnp.arange(x.shape[0]) > 0)[:, None, None, None]

  def blank(f, x, targets):
    return jnp.zeros_like(x)

  correlations, maps = independent_randomization(
      build_f, PARAMS, ["hidden2"], X, TARGETS, {"partly": first_image_blank, "blank": blank},
      key=KEY, return_maps=True)
  per_image = spearman_rank_correlation(maps["partly"]["original"], maps["partly"]["hidden2"])
  assert np.isnan(per_image[0]) and np.all(np.isfinite(per_image[1:]))
  np.testing.assert_allclose(correlations["partly"]["hidden2"], np.mean(per_image[1:]),
                             rtol=1e-6)
  assert np.isnan(correlations["blank"]["hidden2"])


@pytest.mark.parametrize("kwargs, match", [
    ({"layer_order": ["logits", "conv9"]}, r"Unknown layer\(s\) \['conv9'\].*hidden1"),
    ({"layer_order": []}, "empty"),
    ({"layer_order": ["logits", "logits"]}, "duplicates"),
    ({"targets": jnp.zeros((4, 2), jnp.int32)}, r"must be \[B\]"),
    ({"targets": jnp.array([0, 1, 2, 3])}, "out of range"),
    ({"methods": {}}, "non-empty"),
    ({"key": 1}, "PRNG key"),
    ({"x": X[..., 0]}, "rank 4"),
])
def test_validation(kwargs, match):
  args = {"layer_order": LAYERS, "x": X, "targets": TARGETS, "methods": METHODS, "key": KEY}
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    cascading_randomization(build_f, PARAMS, args.pop("layer_order"), args.pop("x"),
                            args.pop("targets"), args.pop("methods"), **args)


def test_sanity_figure(tmp_path):
  rng = np.random.default_rng(0)
  maps = {"gradient": {c: rng.normal(size=(2, 8, 8)) for c in ["original"] + LAYERS},
          "|grad|": {c: rng.uniform(size=(2, 8, 8)) for c in ["original"] + LAYERS}}
  correlations = {m: dict(zip(LAYERS, [0.6, 0.2, 0.05])) for m in maps}
  fig = sanity_figure(maps, correlations, image=rng.uniform(size=(2, 8, 8, 3)), index=1)
  texts = [ax.get_title() for ax in fig.axes]
  assert "original" in texts and "up to hidden2" in texts and "input" in texts
  line_axes = [ax for ax in fig.axes if ax.get_lines()]
  assert len(line_axes) == 1 and len(line_axes[0].get_lines()) == 3  # 2 methods + zero line.
  np.testing.assert_allclose(line_axes[0].get_lines()[0].get_ydata(), [1.0, 0.6, 0.2, 0.05])
  colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
  assert len(colorbars) == 2
  fig.savefig(tmp_path / "sanity.png")
  with Image.open(tmp_path / "sanity.png") as saved:  # the figure renders at its own size
    assert saved.size == tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
