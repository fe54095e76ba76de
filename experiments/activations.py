"""Feature maps and top-activating inputs (Zeiler & Fergus 2014).

python -m experiments.activations --config=configs/activations.py --workdir=/tmp/activations
"""

from experiments import common
from jaxviz.runs import activations

if __name__ == "__main__":
  common.main(activations.run)
