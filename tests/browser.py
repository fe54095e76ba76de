"""Rendering an HTML page in headless Chromium (Playwright with Debian's chromium).

Used by the report tests: load a page from disk, wait for its images, and
read what a reader would see (images decoded, sections in order, statuses).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# A closed network refuses Chromium's background connections; these keep it quiet.
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")

_READ_PAGE = """() => {
  const images = Array.from(document.images).map(img => ({
      src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth}));
  const sections = Array.from(document.querySelectorAll('section')).map(s => ({
      id: s.id, status: s.dataset.status, text: s.innerText}));
  return {images, sections, title: document.title,
          overflow: document.documentElement.scrollWidth > window.innerWidth + 1};
}"""


def chromium_path() -> str:
  """Debian's Chromium, or skip the test saying how to install it."""
  for path in (os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES):
    if path and shutil.which(path):
      return path
  pytest.skip("needs Chromium: apt-get install chromium (CI installs it)")


def render(page: pathlib.Path, screenshot: pathlib.Path, *,
           viewport: tuple[int, int] = (1280, 900)) -> dict:
  """Opens ``page`` from disk, loads every image, saves a full-page screenshot.

  Returns:
    ``{"images": [{"src", "complete", "width"}], "sections": [{"id", "status",
    "text"}], "title": str, "overflow": bool}`` (``overflow``: the page is
    wider than the viewport).
  """
  sync_api = pytest.importorskip("playwright.sync_api",
                                 reason="needs Playwright: pip install playwright (CI installs it)")
  executable = chromium_path()
  with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as playwright:
    browser = playwright.chromium.launch_persistent_context(
        profile, executable_path=executable, headless=True, args=list(CHROMIUM_ARGS),
        viewport={"width": viewport[0], "height": viewport[1]})
    try:
      tab = browser.new_page()
      tab.goto(page.resolve().as_uri(), wait_until="load")
      # Lazy images load when scrolled into view: scroll through, then wait for all.
      tab.evaluate("""async () => {
        for (const img of document.images) { img.loading = 'eager'; }
        await Promise.all(Array.from(document.images).map(img => img.complete ? null :
            new Promise(resolve => { img.onload = img.onerror = resolve; })));
      }""")
      result = tab.evaluate(_READ_PAGE)
      tab.screenshot(path=str(screenshot), full_page=True)
    finally:
      browser.close()
  return result
