"""Trains the small CNN on Fashion-MNIST.

python -m experiments.train --config=configs/train.py --workdir=/tmp/cnn
"""

from experiments import common
from jaxviz.runs import train

if __name__ == "__main__":
  common.main(train.run)
