"""PCA / t-SNE of raw pixels vs. the trained CNN's penultimate layer.

python -m experiments.embedding --config=configs/embedding.py --workdir=/tmp/embedding
"""

from experiments import common
from jaxviz.runs import embedding

if __name__ == "__main__":
  common.main(embedding.run)
