"""Copies experiment figures into docs/figures at README size.

python scripts/readme_figures.py SRC.png DEST_NAME.png [--width=1400]
"""

import argparse
import pathlib

from PIL import Image


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("src")
  parser.add_argument("name")
  parser.add_argument("--width", type=int, default=1400)
  args = parser.parse_args()
  image = Image.open(args.src).convert("RGB")
  if image.width > args.width:
    height = round(image.height * args.width / image.width)
    image = image.resize((args.width, height), Image.LANCZOS)
  dest = pathlib.Path(__file__).resolve().parent.parent / "docs" / "figures" / args.name
  image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)
  print(f"{dest} {dest.stat().st_size // 1024} KiB")


if __name__ == "__main__":
  main()
