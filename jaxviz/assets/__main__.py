"""``python -m jaxviz.assets fetch [NAME ...]``: fetch asset folders.

Prints one line per folder (fetched / already present / failed) and exits 1
when any failed, 2 on bad arguments (an unknown name lists the known ones).
"""

from __future__ import annotations

import argparse
import logging
import sys

from jaxviz.assets import download
from jaxviz.assets import fetching
from jaxviz.assets import lookup
from jaxviz.assets import sources

_OFFLINE_HINT = (
    "Offline? Copy the asset folders from a machine with internet access and set "
    f"{lookup.DATA_DIR_ENV} to their parent folder, or set {download.MIRROR_ENV} to a mirror "
    "laid out as <mirror>/<host>/<path>.")


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="python -m jaxviz.assets",
                                   description="Fetch jaxviz's asset folders.")
  commands = parser.add_subparsers(dest="command", required=True)
  fetch = commands.add_parser(
      "fetch", help="download asset folders from their public sources",
      description=f"Folders: {', '.join(sources.FOLDERS)} (default: all).")
  fetch.add_argument("names", nargs="*", metavar="NAME", help="asset folders (default: all)")
  fetch.add_argument("--dir", default=None,
                     help=f"asset root (default: ${lookup.DATA_DIR_ENV}, else ~/.cache/jaxviz)")
  fetch.add_argument("--mirror", default=None,
                     help=f"mirror base URL (default: ${download.MIRROR_ENV})")
  return parser


def main(argv: list[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  try:
    names = fetching.check_names(args.names, sources.FOLDERS)
  except ValueError as e:
    parser.error(str(e))
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  results = fetching.fetch(names, root=args.dir, mirror=args.mirror,
                           on_result=lambda result: print(result.line(), flush=True))
  failed = [r for r in results if r.status == "failed"]
  if any(isinstance(r.error, download.NetworkError) for r in failed):
    print(_OFFLINE_HINT, file=sys.stderr)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
