"""Conv filters, linear class templates and MobileNetV2 first-layer filters.

python -m experiments.weights --config=configs/weights.py --workdir=/tmp/weights
"""

from experiments import common
from jaxviz.runs import weights

if __name__ == "__main__":
  common.main(weights.run)
