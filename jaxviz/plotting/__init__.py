"""Figures (numpy + matplotlib only, no JAX inside)."""

from jaxviz.plotting.common import new_figure
from jaxviz.plotting.predictions import prediction_grid
