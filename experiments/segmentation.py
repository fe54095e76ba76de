"""Saliency-seeded GrabCut segmentation (Simonyan et al. 2013, Sec. 3.1).

python -m experiments.segmentation --config=configs/segmentation.py --workdir=/tmp/segmentation
"""

from experiments import common
from jaxviz.runs import segmentation

if __name__ == "__main__":
  common.main(segmentation.run)
