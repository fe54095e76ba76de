"""The shared toolkit: input checks, the chunked sum, progress, pixel budgets, config variants."""

import logging

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import common as config_common
from jaxviz import chunking
from jaxviz import progress
from jaxviz import validation
from jaxviz.models.meta import ModelMeta


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(2), np.uint8(5)])
def test_check_positive_int_accepts_python_and_numpy_integers(value):
  out = validation.check_positive_int(value, "steps")
  assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -2, True, False, np.bool_(True), 2.0, "3", None, 1.5])
def test_check_positive_int_rejects_bools_floats_and_the_rest(value):
  with pytest.raises(ValueError, match=r"steps must be a positive int, got"):
    validation.check_positive_int(value, "steps")


def test_check_finite_reduces_on_the_device_and_works_under_a_trace():
  x = jnp.ones((2, 3))
  validation.check_finite(x, "x")
  with pytest.raises(ValueError, match="y contains NaN or Inf"):
    validation.check_finite(x.at[1, 2].set(jnp.inf), "y")
  with pytest.raises(ValueError, match="NaN"):
    validation.check_finite(np.array([0.0, np.nan]))
  bad = jnp.array([np.nan])

  def traced(z):  # A concrete closed-over array is still checked inside jit.
    validation.check_finite(bad, "bad")
    return z

  with pytest.raises(ValueError, match="bad contains NaN"):
    jax.jit(traced)(1.0)
  jax.jit(lambda z: validation.check_finite(z) or z)(jnp.array([np.nan]))  # Tracers: skipped.


def test_check_targets_under_an_outer_trace():
  targets = np.array([0, 9])
  jax.jit(lambda x: validation.check_targets(targets, 2, 10) or x)(1.0)
  with pytest.raises(ValueError, match=r"out of range: values must be in \[0, 9\)"):
    jax.jit(lambda x: validation.check_targets(targets, 2, 9) or x)(1.0)


@pytest.mark.parametrize("num_items, chunk_size", [(10, 3), (10, 10), (10, 64), (1, 1), (7, 2)])
def test_chunked_sum_equals_the_plain_sum(num_items, chunk_size):
  items = (jnp.arange(num_items, dtype=jnp.float32), jnp.ones((num_items, 2)))
  total = chunking.chunked_sum(lambda item: {"a": item[0] ** 2, "b": item[1] * item[0]}, items,
                               chunk_size=chunk_size)
  k = np.arange(num_items, dtype=np.float32)
  np.testing.assert_allclose(total["a"], (k ** 2).sum())
  np.testing.assert_allclose(total["b"], [k.sum()] * 2)


def test_chunked_sum_pads_with_a_masked_copy_of_the_last_item():
  # 3 items in chunks of 2: the last chunk is padded with a copy of the item
  # 4.0 and its result is masked out (a zero pad would add 1/0 = inf, an
  # unmasked copy another 0.25).
  out = chunking.chunked_sum(lambda v: 1.0 / v, jnp.array([1.0, 2.0, 4.0]), chunk_size=2)
  np.testing.assert_allclose(out, 1.75)
  assert chunking.chunk_layout(50, 16) == (4, 13)


@pytest.mark.parametrize("chunk_size", [1, 2, 5])
def test_chunked_sum_traces_fn_the_same_number_of_times_for_any_chunk_count(chunk_size):
  calls = []
  chunking.chunked_sum(lambda v: calls.append(v.shape) or v, jnp.arange(5.0),
                       chunk_size=chunk_size)
  assert calls == [(), ()]  # one shape probe, one trace of the loop body


def test_chunked_sum_rejects_bad_input():
  with pytest.raises(ValueError, match="chunk_size must be a positive int"):
    chunking.chunked_sum(lambda v: v, jnp.arange(3.0), chunk_size=0)
  with pytest.raises(ValueError, match="same leading axis"):
    chunking.chunked_sum(lambda v: v[0], (jnp.arange(3.0), jnp.arange(4.0)), chunk_size=2)


def test_progress_logs_rate_and_eta_at_most_every_interval(caplog):
  now = [0.0]
  reporter = progress.Progress(100, "steps", name="train", start=20, every_seconds=10.0,
                               clock=lambda: now[0])
  with caplog.at_level(logging.INFO, logger="jaxviz"):
    now[0] = 5.0
    assert reporter.update(30) is None  # too soon
    now[0] = 20.0
    message = reporter.update(60, loss=0.25)
    now[0] = 21.0
    assert reporter.update(61) is None
    now[0] = 40.0
    final = reporter.update(100)
  # 40 steps done here in 20 s: 2 steps/s, 40 left -> 20 s.
  assert message == "train: 60/100 steps (60%), 2 steps/s, ETA 20 s | loss 0.25"
  assert final.startswith("train: 100/100 steps (100%)") and "ETA 0 s" in final
  assert [r.getMessage() for r in caplog.records] == [message, final]


def test_pixel_budget_converts_pixel_units_through_the_meta():
  mobilenet = ModelMeta("m", (224, 224, 3), mean=(0.5,) * 3, std=(0.5,) * 3,
                        class_names=("a",), label_offset=1)
  np.testing.assert_allclose(mobilenet.pixel_budget(8 / 255), [16 / 255] * 3, rtol=1e-6)
  np.testing.assert_allclose(mobilenet.pixel_budget(8, pixel_scale=255), [16 / 255] * 3,
                             rtol=1e-6)
  vgg = ModelMeta("v", (224, 224, 3), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                  class_names=("a",))
  eps = vgg.pixel_budget(0.1)
  low, high = vgg.input_bounds
  # A step of eps in input units is a step of 0.1 in [0, 1] pixels, per channel.
  np.testing.assert_allclose(eps * np.asarray(vgg.std), [0.1] * 3, rtol=1e-6)
  np.testing.assert_allclose(high - low, 1 / np.asarray(vgg.std), rtol=1e-6)
  assert vgg.input_range == (float(low.min()), float(high.max()))
  with pytest.raises(ValueError, match="finite and >= 0"):
    vgg.pixel_budget(-0.1)
  with pytest.raises(ValueError, match="pixel_scale"):
    vgg.pixel_budget(0.1, pixel_scale=0)


def test_config_variants_override_dotted_fields_and_reject_unknown_ones():
  def make():
    return ml_collections.ConfigDict({"steps": 10, "model": {"layers": ("a",)}})

  variants = {"smoke": {"steps": 2, "model.layers": ("b",)}}
  assert config_common.with_variant(make(), "", variants).steps == 10
  smoke = config_common.with_variant(make(), "smoke", variants)
  assert smoke.steps == 2 and smoke.model.layers == ("b",)
  with pytest.raises(ValueError, match=r"Unknown variant 'big'; expected '' or one of \['smoke'\]"):
    config_common.with_variant(make(), "big", variants)
  with pytest.raises(ValueError, match="sets 'model.width'"):
    config_common.with_variant(make(), "smoke", {"smoke": {"model.width": 2}})
