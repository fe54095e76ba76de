"""Progress with rate and ETA for long loops, through the standard ``logging`` module.

One reporter for every long loop (training steps, dataset batches,
optimisation steps of synthesis, attacks and style transfer): it logs at
most every ``every_seconds`` and always at the end, e.g. ``train: 600/1404
steps (43%), 9.8 steps/s, ETA 82 s | loss 0.31``.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

__all__ = ("Progress",)

_LOG = logging.getLogger("jaxviz")


def _format_value(value) -> str:
  try:
    value = float(value)
  except (TypeError, ValueError):
    return str(value)
  return f"{value:.4g}"


class Progress:
  """Reports ``done / total`` with rate and ETA.

  Args:
    total: the number of units of work (steps, examples, sections).
    what: what the units are, for the message (``"steps"``).
    name: what is in progress (``"train"``); the message's prefix.
    start: units already done before this process started (a resumed run);
      the rate counts only the units done here.
    every_seconds: the shortest interval between two messages.
    logger: where to log (default: the ``jaxviz`` logger).
    clock: the time source (for tests).
  """

  def __init__(self, total: int, what: str = "steps", *, name: str = "", start: int = 0,
               every_seconds: float = 10.0, logger: logging.Logger | None = None,
               clock: Callable[[], float] = time.monotonic):
    self.total, self.what, self.name = int(total), what, name
    self.every_seconds = every_seconds
    self._logger = logger or _LOG
    self._clock = clock
    self._start_done = int(start)
    self._start_time = self._last_time = clock()
    self.messages: list[str] = []

  def eta_seconds(self, done: int) -> float | None:
    """Seconds left at the rate seen so far (None before any unit is done here)."""
    elapsed = self._clock() - self._start_time
    rate = (done - self._start_done) / elapsed if elapsed > 0 else 0.0
    return (self.total - done) / rate if rate > 0 else None

  def update(self, done: int, **metrics) -> str | None:
    """Logs progress if ``every_seconds`` passed since the last message or the work is done.

    Args:
      done: units done so far (in total, resumed units included).
      **metrics: named values to append (e.g. ``loss=0.31``).

    Returns:
      The message logged, or None.
    """
    now = self._clock()
    if now - self._last_time < self.every_seconds and done < self.total:
      return None
    self._last_time = now
    elapsed = now - self._start_time
    rate = (done - self._start_done) / elapsed if elapsed > 0 else float("nan")
    eta = self.eta_seconds(done)
    text = (f"{self.name + ': ' if self.name else ''}{done}/{self.total} {self.what} "
            f"({100.0 * done / max(self.total, 1):.0f}%), {rate:.3g} {self.what}/s, "
            f"{'ETA %.0f s' % eta if eta is not None else 'ETA ?'}")
    if metrics:
      text += " | " + ", ".join(f"{k} {_format_value(v)}" for k, v in metrics.items())
    self._logger.info("%s", text)
    self.messages.append(text)
    return text
