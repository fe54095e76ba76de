"""Reports: one self-contained HTML page of sections, figures and numbers."""

from jaxviz.report.page import Figure
from jaxviz.report.page import page
from jaxviz.report.page import Section
from jaxviz.report.page import STATUSES

__all__ = ("Figure", "STATUSES", "Section", "page")
