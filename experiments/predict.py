"""Top-5 ImageNet predictions for a folder of images.

python -m experiments.predict --config=configs/predict.py --workdir=/tmp/pred
"""

from experiments import common
from jaxviz.runs import predict

if __name__ == "__main__":
  common.main(predict.run)
