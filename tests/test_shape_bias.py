"""Cue-conflict shape bias: folder parsing, the 1000 -> 16 mapping, counting, bad folders."""

import json

import jax.numpy as jnp
import numpy as np
import PIL.Image
import pytest

from jaxviz.models.meta import ModelMeta
from jaxviz.robustness import CATEGORIES
from jaxviz.robustness import count_shape_bias
from jaxviz.plotting import robustness_plots as figures
from jaxviz.robustness import find_stimuli
from jaxviz.robustness import load_category_indices
from jaxviz.robustness import model_decisions
from jaxviz.robustness import shape_bias
from tests import helpers

# A stand-in index map: category c owns ImageNet classes 20c .. 20c + c (c + 1 classes).
INDICES = {name: tuple(range(20 * c, 20 * c + c + 1)) for c, name in enumerate(CATEGORIES)}
META = ModelMeta(name="fake_imagenet", input_shape=(4, 4, 3), mean=(0.0,) * 3, std=(1.0,) * 3,
                 class_names=tuple(f"c{i}" for i in range(1000)), label_offset=1)


def fake_model(x):
  """1001 logits (background first) whose winning ImageNet class is 10 * (red level // 10)."""
  category = jnp.round(x[:, 0, 0, 0] * 255 / 10).astype(jnp.int32)
  imagenet = 20 * category + category  # The last index of that category.
  return jnp.where(jnp.arange(1001)[None] == imagenet[:, None] + 1, 20.0, 0.0)


def _write(folder, name, decided):
  folder.mkdir(parents=True, exist_ok=True)
  pixels = np.zeros((4, 4, 3), np.uint8)
  pixels[..., 0] = 10 * CATEGORIES.index(decided)
  PIL.Image.fromarray(pixels).save(folder / name)


# (shape folder, file name, what the fake model decides)
STIMULI = [
    ("cat", "cat1-elephant1.png", "cat"),         # shape decision
    ("cat", "cat2-clock3.png", "clock"),          # texture decision
    ("cat", "cat3-cat1.png", "cat"),              # shape == texture: excluded
    ("elephant", "elephant1-cat2.png", "cat"),    # texture decision
    ("elephant", "elephant2-knife1.png", "oven"), # neither
    ("elephant", "elephant3-bear1.png", "elephant"),  # shape decision
    ("truck", "truck1-bird2.png", "truck"),       # shape decision
]


def test_counts_on_a_hand_made_folder_with_known_decisions(tmp_path):
  for folder, name, decided in STIMULI:
    _write(tmp_path / folder, name, decided)
  (tmp_path / "cat" / "notes.txt").write_text("not an image")  # Ignored.
  stimuli = find_stimuli(tmp_path)
  assert len(stimuli.paths) == 7
  assert stimuli.textures[stimuli.paths.index(tmp_path / "cat" / "cat2-clock3.png")] == "clock"
  decisions, probabilities = model_decisions(fake_model, META, stimuli, INDICES, batch_size=3)
  want = {p: d for _, p, d in STIMULI}
  assert decisions == [want[p.name] for p in stimuli.paths]
  assert probabilities.shape == (7, 16)
  result = count_shape_bias(decisions, stimuli.shapes, stimuli.textures)
  assert (result.shape_decisions, result.texture_decisions) == (3, 2)
  assert (result.images_evaluated, result.excluded) == (6, 1)
  assert result.shape_bias == pytest.approx(3 / 5)
  assert result.per_category["cat"] == {"shape": 1, "texture": 1, "images": 2, "shape_bias": 0.5}
  assert result.per_category["elephant"]["shape_bias"] == pytest.approx(1 / 2)
  assert result.per_category["truck"]["shape_bias"] == 1.0
  assert set(result.per_category) == {"cat", "elephant", "truck"}


def test_mean_probability_mapping_and_the_background_offset():
  probabilities = np.zeros((2, 1000), np.float32)
  probabilities[0, INDICES["bird"][0]] = 0.3  # bird: 4 classes -> mean 0.075
  probabilities[0, INDICES["airplane"][0]] = 0.1  # airplane: 1 class -> mean 0.1 (wins)
  probabilities[1, list(INDICES["dog"])] = 0.05  # dog: 11 classes, all 0.05 -> mean 0.05
  probabilities[1, INDICES["cat"][0]] = 0.06  # cat: 8 classes -> mean 0.0075
  per_category = np.asarray(shape_bias.category_probabilities(probabilities, INDICES))
  assert per_category[0, CATEGORIES.index("airplane")] == pytest.approx(0.1)
  assert per_category[0, CATEGORIES.index("bird")] == pytest.approx(0.075)
  assert np.argmax(per_category, 1).tolist() == [CATEGORIES.index("airplane"),
                                                 CATEGORIES.index("dog")]
  # 1001 logits: ImageNet class i is logit i + 1; reading them without the offset is wrong.
  logits = np.zeros((1, 1001), np.float32)
  logits[0, INDICES["knife"][0] + 1] = 30.0
  decided, _ = shape_bias.category_decisions(logits, INDICES, label_offset=1)
  assert CATEGORIES[decided[0]] == "knife"
  with pytest.raises(ValueError, match=r"\[B, 1000\]"):
    shape_bias.category_decisions(logits, INDICES, label_offset=0)


@pytest.mark.parametrize("layout,match", [
    ({"dinosaur": ["dinosaur1-cat1.png"]}, "Unknown class folders"),
    ({"cat": []}, "No cue-conflict images"),
    ({"cat": ["photo.png"]}, "Unrecognised stimulus name"),
    ({"cat": ["cat1-zebra2.png"]}, "texture 'zebra' is not a category"),
])
def test_bad_stimuli_folders_are_refused(tmp_path, layout, match):
  for folder, names in layout.items():
    (tmp_path / folder).mkdir()
    for name in names:
      _write(tmp_path / folder, name, "cat")
  with pytest.raises(ValueError, match=match):
    find_stimuli(tmp_path)
  with pytest.raises(FileNotFoundError):
    find_stimuli(tmp_path / "missing")


def test_count_rejects_mismatched_or_unknown_entries():
  with pytest.raises(ValueError, match="one entry per image"):
    count_shape_bias(["cat"], ["cat", "dog"], ["dog"])
  with pytest.raises(ValueError, match="Unknown categories"):
    count_shape_bias(["tiger"], ["cat"], ["dog"])


def test_the_shared_subset_and_index_map(tmp_path):
  folder = helpers.shared_asset("texture_vs_shape_subset/cue-conflict")
  indices = load_category_indices(folder.parent / "geirhos16_imagenet_indices.json")
  assert len(indices["airplane"]) == 1 and len(indices["dog"]) > 100
  stimuli = find_stimuli(folder)
  assert len(stimuli.paths) == 160 and set(stimuli.shapes) == set(CATEGORIES)
  assert all(s != t for s, t in zip(stimuli.shapes, stimuli.textures))
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps({"cat": [1]}))
  with pytest.raises(ValueError, match="must map the 16 categories"):
    load_category_indices(bad)


def test_shape_bias_figure_marks_the_references():
  fig = figures.shape_bias_figure({"model": ({"cat": 0.5, "dog": None, "truck": 1.0}, 0.6)},
                                  references=shape_bias.REFERENCE_SHAPE_BIAS)
  ax = fig.axes[0]
  labels = ax.get_legend_handles_labels()[1]
  assert "model: 0.600" in labels
  assert any("ResNet-50" in l and "0.214" in l for l in labels)
  assert any("humans" in l and "0.96" in l for l in labels)
  assert ax.get_xlabel() == "fraction of 'shape' decisions"
