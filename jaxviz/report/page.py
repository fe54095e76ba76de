"""One self-contained HTML page from sections of figures, captions and numbers.

The page links its figures by relative paths (it opens from disk and from any
static web server), inlines its stylesheet, needs no script, and lays out
on a laptop screen (figures up to the text width) as on a phone (one column,
images scaled to the screen width, tables scrolled horizontally).
"""

from __future__ import annotations

import dataclasses
import html
from typing import Mapping, Sequence

__all__ = ("Figure", "STATUSES", "Section", "page")

STATUSES = ("ok", "skipped", "failed")

_STYLE = """
:root { color-scheme: light; --ink: #1d2126; --muted: #5b6470; --line: #d8dde3;
        --ok: #1b7f3b; --skipped: #8a6d00; --failed: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fafbfc; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
header { border-bottom: 1px solid var(--line); margin-bottom: 1.5rem; }
h1 { font-size: 1.75rem; margin: 0.5rem 0; }
h2 { font-size: 1.35rem; margin: 2.25rem 0 0.5rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem;
           margin: 0.75rem 0 1rem; font-size: 0.92rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.92rem; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.75rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 600; text-transform: uppercase; font-size: 0.8rem; letter-spacing: 0.04em; }
.status.ok { color: var(--ok); } .status.skipped { color: var(--skipped); }
.status.failed { color: var(--failed); }
section { border-top: 1px solid var(--line); }
section p.summary { margin: 0.25rem 0 0.75rem; }
.note { border-left: 4px solid var(--skipped); background: #fff8e1; padding: 0.5rem 0.75rem; }
.note.failed { border-color: var(--failed); background: #fdecea; }
.note pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0.25rem 0 0; font-size: 0.85rem; }
figure { margin: 1rem 0 1.75rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             background: white; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.4rem; max-width: 60rem; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: 0.75rem; }
                            h1 { font-size: 1.4rem; } }
"""


@dataclasses.dataclass(frozen=True)
class Figure:
  """One figure of a section.

  Attributes:
    src: its path relative to the page (e.g. ``"saliency/saliency_mobilenet_v2.png"``).
    caption: what it shows, with the section's key numbers.
    alt: a short text alternative.
  """

  src: str
  caption: str
  alt: str = ""


@dataclasses.dataclass(frozen=True)
class Section:
  """One topic of the page.

  Attributes:
    name: an identifier (the HTML anchor, e.g. ``"saliency"``).
    title: the heading.
    status: ``"ok"``, ``"skipped"`` or ``"failed"``.
    summary: one paragraph with the key numbers (may be empty).
    figures: the figures, in order.
    reason: why the section was skipped, or the error it failed with.
    wall_seconds: how long it took (None when it did not run).
  """

  name: str
  title: str
  status: str
  summary: str = ""
  figures: Sequence[Figure] = ()
  reason: str = ""
  wall_seconds: float | None = None

  def __post_init__(self):
    if self.status not in STATUSES:
      raise ValueError(f"Section {self.name!r}: status must be one of {STATUSES}, got "
                       f"{self.status!r}.")


def _e(text) -> str:
  return html.escape(str(text), quote=True)


def _seconds(value: float | None) -> str:
  if value is None:
    return "–"
  return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _section_html(section: Section) -> str:
  parts = [f'<section id="{_e(section.name)}" data-status="{_e(section.status)}">',
           f'<h2>{_e(section.title)} <span class="status {_e(section.status)}">'
           f'{_e(section.status)}</span></h2>']
  if section.summary:
    parts.append(f'<p class="summary">{_e(section.summary)}</p>')
  if section.status != "ok":
    kind = "failed" if section.status == "failed" else "skipped"
    label = "This section failed:" if kind == "failed" else "This section was skipped:"
    parts.append(f'<div class="note {kind}"><strong>{label}</strong>'
                 f'<pre>{_e(section.reason)}</pre></div>')
  for fig in section.figures:
    parts.append(f'<figure><img src="{_e(fig.src)}" alt="{_e(fig.alt or fig.caption)}" '
                 f'loading="lazy"><figcaption>{_e(fig.caption)}</figcaption></figure>')
  parts.append("</section>")
  return "\n".join(parts)


def page(title: str, sections: Sequence[Section], *, facts: Mapping[str, str] = (),
         intro: str = "", total_seconds: float | None = None) -> str:
  """The HTML page: a header (title, facts, contents), the wall-time table, the sections.

  Args:
    title: the page title.
    sections: the sections, in reading order.
    facts: header facts (e.g. models, data, versions, machine), in order.
    intro: a paragraph under the title.
    total_seconds: the total wall time, for the table's last row.

  Returns:
    The page as a string (UTF-8 HTML5).

  Raises:
    ValueError: two sections with the same name.
  """
  names = [s.name for s in sections]
  if len(set(names)) != len(names):
    raise ValueError(f"Section names must be unique, got {names}.")
  facts = dict(facts)
  head = [f"<title>{_e(title)}</title>", '<meta charset="utf-8">',
          '<meta name="viewport" content="width=device-width, initial-scale=1">',
          f"<style>{_STYLE}</style>"]
  rows = "".join(
      f'<tr><td><a href="#{_e(s.name)}">{_e(s.title)}</a></td>'
      f'<td><span class="status {_e(s.status)}">{_e(s.status)}</span></td>'
      f'<td class="num">{_seconds(s.wall_seconds)}</td></tr>' for s in sections)
  if total_seconds is not None:
    rows += f'<tr><th>total</th><th></th><th class="num">{_seconds(total_seconds)}</th></tr>'
  body = ["<main>", "<header>", f"<h1>{_e(title)}</h1>"]
  if intro:
    body.append(f"<p>{_e(intro)}</p>")
  if facts:
    body.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
                                               for k, v in facts.items()) + "</dl>")
  body.append('<div class="scroll"><table id="wall-times"><thead><tr><th>section</th>'
              '<th>status</th><th class="num">wall time</th></tr></thead>'
              f"<tbody>{rows}</tbody></table></div>")
  body.append("</header>")
  body.extend(_section_html(s) for s in sections)
  body.append("</main>")
  return ("<!doctype html>\n<html lang=\"en\">\n<head>\n" + "\n".join(head) + "\n</head>\n<body>\n"
          + "\n".join(body) + "\n</body>\n</html>\n")
