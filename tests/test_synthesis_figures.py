"""The labelled grid of jaxviz.plotting.synthesis_plots."""

import numpy as np
import pytest

from jaxviz.plotting import synthesis_plots as figures


def test_grid_has_a_panel_per_image_with_its_texts_and_skips_nan_panels():
  images = np.random.default_rng(0).uniform(size=(2, 3, 6, 12, 3)).astype(np.float32)
  images[1, 2] = np.nan
  titles = [[f"t{r}{c}" for c in range(3)] for r in range(2)]
  notes = [[f"n{r}{c}" for c in range(3)] for r in range(2)]
  fig = figures.synthesis_grid_figure(images, ["row a", "row b"], titles, notes, title="T",
                                      caption="C", cell=2.0)
  axes = fig.axes
  assert len(axes) == 6
  assert [ax.get_title() for ax in axes[:5]] == ["t00", "t01", "t02", "t10", "t11"]
  assert axes[3].get_xlabel() == "n10" and axes[0].get_ylabel() == "row a"
  assert not axes[5].axison  # the NaN panel is left empty
  width, height = fig.get_size_inches()
  assert width == pytest.approx(6.0) and height == pytest.approx(2 * (1.0 + 0.9))  # aspect 1:2
  with pytest.raises(ValueError, match="match the 2x3 grid"):
    figures.synthesis_grid_figure(images, ["row a"], titles, notes)
