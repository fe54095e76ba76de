"""jaxviz's attacks against Foolbox 3 (foolbox.JAXModel) on the same JAX model and inputs.

The model lives in a MobileNet-like input space [-1, 1] (mean = std = 0.5), so
Foolbox, which takes epsilon in the model's input units, must be given twice
the pixel epsilon jaxviz takes: the unit mix-up of foolbox#703 would show as
a factor of two.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxviz.models import random_params
from jaxviz.models import SmallCNN
from jaxviz.models.meta import ModelMeta
from jaxviz.robustness import fgsm
from jaxviz.robustness import pgd

foolbox = pytest.importorskip("foolbox")

META = ModelMeta(name="cnn_pm1", input_shape=(12, 12, 3), mean=(0.5,) * 3, std=(0.5,) * 3,
                 class_names=tuple("abcdef"))
SCALE = float(META.pixel_budget(1.0)[0])  # Input units per pixel unit: 2.


@pytest.fixture(scope="module")
def setup():
  model = SmallCNN(num_classes=6, channels=(6, 8), hidden=24)
  params = random_params(model, (1,) + META.input_shape, seed=0)
  f = jax.jit(functools.partial(model.apply, {"params": params}))
  pixels = np.random.default_rng(0).uniform(0, 255, (200,) + META.input_shape)
  x = META.preprocess(pixels.astype(np.float32))
  labels = np.asarray(jnp.argmax(f(jnp.asarray(x)), -1), np.int32)  # Clean accuracy 100%.
  return f, x, labels, foolbox.JAXModel(f, bounds=META.input_range)


def test_fgsm_perturbations_are_identical_to_foolbox(setup):
  f, x, labels, fmodel = setup
  eps = 4 / 255
  ours = np.asarray(fgsm(f, x, labels, meta=META, epsilon=eps).adversarial)
  _, theirs, _ = foolbox.attacks.FGSM()(fmodel, jnp.asarray(x), jnp.asarray(labels),
                                       epsilons=eps * SCALE)
  theirs = np.asarray(theirs.raw if hasattr(theirs, "raw") else theirs)
  np.testing.assert_allclose(ours, theirs, atol=1e-6)
  np.testing.assert_array_equal(np.sign(np.round((ours - x) * 1e4)),
                                np.sign(np.round((theirs - x) * 1e4)))


@pytest.mark.parametrize("random_start", [False, True])
def test_linf_pgd_accuracy_agrees_with_foolbox(setup, random_start):
  f, x, labels, fmodel = setup
  eps, step, steps = 3 / 255, 1 / 255, 10
  ours = pgd(f, x, labels, meta=META, epsilon=eps, steps=steps, step_size=step,
             random_start=random_start, key=jax.random.key(1))
  ours_accuracy = 1.0 - float(np.mean(np.asarray(ours.success)))
  attack = foolbox.attacks.LinfPGD(abs_stepsize=step * SCALE, steps=steps,
                                   random_start=random_start)
  _, adversarial, success = attack(fmodel, jnp.asarray(x), jnp.asarray(labels),
                                   epsilons=eps * SCALE)
  theirs_accuracy = 1.0 - float(np.mean(np.asarray(success)))
  assert 0.1 < theirs_accuracy < 0.9  # A budget where the comparison means something.
  assert abs(ours_accuracy - theirs_accuracy) <= 0.02, (ours_accuracy, theirs_accuracy)
  print(f"LinfPGD accuracy, random_start={random_start}: jaxviz {ours_accuracy:.3f}, "
        f"foolbox {theirs_accuracy:.3f}")
  delta = np.abs(np.asarray(adversarial) - x).max()
  assert delta == pytest.approx(eps * SCALE, rel=1e-4)  # Foolbox's ball, in input units.
