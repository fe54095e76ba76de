"""experiments.adversarial end to end (smoke config: small CNN and softmax on 8x8 digits).

The smoke config runs twice on the same untrained CNN and transfer model
(``tests/helpers.save_untrained_cnn``; the softmax classifier is trained in
the first run and reused by the second), so the test can check that the same
config gives the same arrays.
"""

import json

import numpy as np
import pytest

from configs import adversarial as adversarial_config
from experiments import adversarial
from experiments import common
from tests import helpers


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compile_cache):
  del compile_cache
  root = tmp_path_factory.mktemp("adversarial")
  config = adversarial_config.get_config("smoke")
  config.cnn_workdir, config.transfer_workdir = str(root / "cnn"), str(root / "linear")
  config.mnist_softmax.workdir = str(root / "mnist_softmax")
  helpers.save_untrained_cnn(config.cnn_train, root / "cnn")
  helpers.save_untrained_cnn(config.transfer_train, root / "linear")
  return [(common.execute(adversarial.run, config, root / name), root / name)
          for name in ("a", "b")]


def test_summary_has_the_issue_keys(runs):
  summary, workdir = runs[0]
  on_disk = json.loads((workdir / "summary.json").read_text())
  assert set(on_disk["mnist_softmax_fgsm_error"]) == {"0", "0.1", "0.25"}
  assert set(on_disk["mnist_softmax_fgsm_confidence"]) == {"0", "0.1", "0.25"}
  assert set(on_disk["fashion_cnn_fgsm_error"]) == {"0", "0.05", "0.2"}
  assert "evaluated on the other" in on_disk["mnist_softmax_split"]
  errors = list(on_disk["mnist_softmax_fgsm_error"].values())
  assert errors == sorted(errors) and errors[-1] > errors[0]  # A linear model: FGSM grows.
  checklist = on_disk["sanity_checklist"]
  assert set(checklist) >= {"accuracy_reaches_zero", "more_steps_not_weaker",
                            "more_restarts_not_weaker", "white_box_not_weaker_than_transfer",
                            "targeted_raises_target_probability"}
  assert all(isinstance(v, bool) for v in checklist.values())
  assert on_disk["skipped"] == {}
  assert summary["models"]["small_cnn"]["images"] == 32


def test_figures_and_arrays(runs):
  _, workdir = runs[0]
  for name in ("small_cnn", "mnist_softmax"):
    assert (workdir / f"adversarial_{name}.png").stat().st_size > 10_000
    assert (workdir / f"robustness_{name}.png").stat().st_size > 10_000
    arrays = np.load(workdir / f"adversarial_{name}.npz")
    assert arrays["fgsm_success"].shape == arrays["pgd_success"].shape
    # PGD (from a random start, keeping its best iterate) is at least as strong as FGSM.
    assert np.all(arrays["pgd_accuracy"] <= arrays["fgsm_accuracy"] + 0.05)
    assert np.all(arrays["fgsm_norm"] <= arrays["fgsm_epsilons"][:, None] + 1e-5)


def test_two_runs_give_identical_arrays(runs):
  for name in ("small_cnn", "mnist_softmax"):
    first = np.load(runs[0][1] / f"adversarial_{name}.npz")
    second = np.load(runs[1][1] / f"adversarial_{name}.npz")
    for key in first.files:
      np.testing.assert_array_equal(first[key], second[key], err_msg=f"{name} {key}")


def test_unknown_models_are_refused(tmp_path):
  config = adversarial_config.get_config("smoke")
  config.models = ("resnet50",)
  with pytest.raises(ValueError, match="subset of"):
    adversarial.run(config, tmp_path)
