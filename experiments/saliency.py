"""Saliency methods side by side (MobileNetV2 photos, small CNN test images).

python -m experiments.saliency --config=configs/saliency.py --workdir=/tmp/jaxviz_saliency
"""

from experiments import common
from jaxviz.runs import saliency

if __name__ == "__main__":
  common.main(saliency.run)
