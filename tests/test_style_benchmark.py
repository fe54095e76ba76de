"""The PyTorch style transfer loop of benchmarks/style.py solves jaxviz's problem."""

import jax
import numpy as np
import pytest

from jaxviz import style
from jaxviz.models import mobilenet
from jaxviz.models import random_params
from jaxviz.models.meta import ModelMeta

torch = pytest.importorskip("torch")

# pylint: disable=g-import-not-at-top,wrong-import-position
from benchmarks import style as style_bench
from benchmarks import torch_models

SHAPE = (1, 32, 48, 3)
META = ModelMeta(name="mobilenet_v2", input_shape=SHAPE[1:], mean=(0.5,) * 3, std=(0.5,) * 3,
                 class_names=tuple(f"c{i}" for i in range(1000)), label_offset=1)


@pytest.fixture(scope="module")
def problem():
  model = mobilenet.MobileNetV2(width=0.35, impl="native")
  params = random_params(model, SHAPE, seed=0)
  # The first blocks only (a small compilation); an expansion and a block output.
  config = style.preset("mobilenet_v2", optimizer="adam", learning_rate=0.02, iterations=2,
                        log_every=2, content_layers={"expanded_conv_2/expand": 1.0},
                        style_layers={"Conv": 1e3, "expanded_conv_1/expand": 1e4,
                                      "expanded_conv_3": 1e2})
  rng = np.random.default_rng(0)
  content = META.preprocess(rng.uniform(0, 255, SHAPE))
  styles = META.preprocess(rng.uniform(0, 255, (2,) + SHAPE[1:]))
  features = style.LayerFeatures(model, params, config.layers, SHAPE)
  return model, params, config, content, styles, features


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_torch_loop_computes_the_jaxviz_loss_and_adam_steps(problem, layout):
  model, params, config, content, styles, features = problem
  weights = [config.content_weight, config.style_weight, config.tv_weight]
  loop = style_bench.TorchStyleLoop(torch_models.from_flax(model, params, layout), config, META,
                                    layout)
  c_t, s_t = loop.to_torch(content), loop.to_torch(styles)

  @jax.jit
  def total(x, content, styles):
    targets = style.make_targets(features, config, content, styles)
    return style.loss_terms(features, config, META, x, targets, np.float32(weights))["total"]

  want = total(np.concatenate([content] * 2), content, styles)
  with torch.no_grad():
    got = loop.losses(c_t.repeat(2, 1, 1, 1), loop.targets(c_t, s_t), weights)
  np.testing.assert_allclose(got.numpy(), want, rtol=1e-4)
  # The same two projected Adam steps give the same images.
  ours = style.style_transfer(features, content, styles, META, jax.random.key(0), config)
  theirs = loop.run(c_t, s_t, weights, config.iterations, config.optimizer)
  np.testing.assert_allclose(theirs["images"].permute(0, 2, 3, 1).numpy(), ours.images,
                             atol=2e-3)
  assert theirs["evaluations"] == 2


def test_bad_benchmark_arguments_fail_before_any_work():
  with pytest.raises(ValueError, match="style method"):
    style_bench.run_style_benchmark(methods=["style_sgd"])
  with pytest.raises(ValueError, match="impl"):
    style_bench.run_style_benchmark(impls=["jax"])
  with pytest.raises(ValueError, match="iterations"):
    style_bench.run_style_benchmark(iterations=0)
