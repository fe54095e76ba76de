"""Guided backprop of the strongest channels of MobileNetV2 and small-CNN layers.

python -m experiments.neuron --config=configs/neuron.py --workdir=/tmp/jaxviz_neuron
"""

from experiments import common
from jaxviz.runs import neuron

if __name__ == "__main__":
  common.main(neuron.run)
