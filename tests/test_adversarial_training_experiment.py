"""experiments.adversarial_training end to end (smoke config: tiny CNNs on 8x8 digits).

The standard CNN is an untrained one (``tests/helpers.save_untrained_cnn``);
the adversarially trained one is trained through the ``perturb`` hook of
``jaxviz.training.train`` in the first run and reused by the second.
"""

import json

import numpy as np
import pytest

from configs import adversarial_training as training_config
from experiments import adversarial_training
from experiments import common
from tests import helpers


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("adversarial_training")
  config = training_config.get_config("smoke")
  config.cnn_workdir, config.adversarial_workdir = str(root / "cnn"), str(root / "adversarial")
  helpers.save_untrained_cnn(config.cnn_train, root / "cnn")
  return [(common.execute(adversarial_training.run, config, root / name), root / name)
          for name in ("a", "b")]


def test_accuracy_ladder_for_both_models(runs):
  (summary, workdir), (again, _) = runs
  on_disk = json.loads((workdir / "summary.json").read_text())
  assert set(on_disk["accuracy"]) == {"standard", "adversarial"}
  for model in ("standard", "adversarial"):
    assert set(on_disk["accuracy"][model]) == {"clean", "fgsm", "pgd20", "pgd100x10"}
    assert on_disk["ladder_holds"][model], on_disk["accuracy_on_strong_subset"][model]
  assert on_disk["attacks"]["pgd100x10"] == {"steps": 6, "restarts": 2, "images": 32}
  assert summary["adversarial_train_seconds"] > 0  # Trained through the perturb hook ...
  assert again["adversarial_train_seconds"] is None  # ... and loaded by the second run.
  assert again["accuracy"] == summary["accuracy"]


def test_figures_and_arrays(runs):
  (_, first), (_, second) = runs
  assert (first / "robustness_adversarial_training.png").stat().st_size > 10_000
  assert (first / "saliency_adversarial_training.png").stat().st_size > 10_000
  arrays = np.load(first / "adversarial_training.npz")
  assert arrays["standard_saliency"].shape == arrays["adversarial_saliency"].shape == (3, 8, 8)
  assert not np.allclose(arrays["standard_saliency"], arrays["adversarial_saliency"])
  assert arrays["standard_pgd100x10_correct"].shape == (32,)
  again = np.load(second / "adversarial_training.npz")
  for key in arrays.files:
    np.testing.assert_array_equal(arrays[key], again[key], err_msg=key)
