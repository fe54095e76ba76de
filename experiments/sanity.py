"""Sanity checks for saliency maps: cascading model randomization (Adebayo et al. 2018).

python -m experiments.sanity --config=configs/sanity.py --workdir=/tmp/sanity
"""

from experiments import common
from jaxviz.runs import sanity

if __name__ == "__main__":
  common.main(sanity.run)
