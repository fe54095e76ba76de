"""Detecting bias: a spurious corner mark on one class, exposed by saliency maps.

python -m experiments.bias --config=configs/bias.py --workdir=/tmp/jaxviz_bias
"""

from experiments import common
from jaxviz.runs import bias

if __name__ == "__main__":
  common.main(bias.run)
