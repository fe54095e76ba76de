#!/usr/bin/env bash
# The jaxviz tour: trains the Fashion-MNIST CNN, then runs every experiment.
# Usage: bash scripts/demo.sh [OUTPUT_DIR]   (needs JAXVIZ_DATA_DIR for the ImageNet parts)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/jaxviz_demo}"
cnn="$out/train"
mkdir -p "$out"
run() {  # run NAME [extra flags...]
  local name="$1"; shift
  echo "=== experiments.$name -> $out/$name"
  python3 -m experiments."$name" --config="configs/$name.py" --workdir="$out/$name" "$@"
}
run train
run predict
for name in weights activations embedding saliency neuron segmentation sanity; do
  run "$name" --config.cnn_workdir="$cnn"
done
run bias
echo "Done: figures, arrays and summary.json under $out"
