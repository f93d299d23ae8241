"""Neural style transfer from the command line.

Edit SETTINGS below, or override any of its keys with a flag (see --help), then run:

    python style_transfer.py

To make an earlier result again: python style_transfer.py --config output/settings.json
"""

# pyimagesearch comes first on purpose: it pins Keras to the TensorFlow backend before keras loads.
from pyimagesearch.nn.conv import NeuralStyle  # noqa: I001
from keras.applications import VGG19

import sys

from pyimagesearch.cli import apply_flags, run, settings_parser

SETTINGS = {
    # content image, style image, and the folder that receives iter_<i>.png
    "input_path": "inputs/tubingen.jpg",
    "style_path": "inputs/starry_night.jpg",
    "output_path": "output",

    # the network and the layers that define content and style
    "net": VGG19,
    "content_layer": "block4_conv2",
    "style_layers": ["block1_conv1", "block2_conv1",
                     "block3_conv1", "block4_conv1", "block5_conv1"],

    # how much each loss term counts
    "content_weight": 1.0,
    "style_weight": 100.0,
    "tv_weight": 10.0,

    # L-BFGS rounds; an image is written after each
    "iterations": 50,

    # None: a new noise start image each run; a number: the same image every time
    "seed": None,

    # None: $NEURALSTYLE_WEIGHTS if set, else Keras downloads the ImageNet weights
    "weights": None,

    # refuse (False) or replace (True) the images of a run with other settings in output_path
    "overwrite": False,
}


def main(argv: list[str] | None = None) -> None:
    args = settings_parser(SETTINGS, description=__doc__).parse_args(argv)
    (settings, maxEvals) = apply_flags(SETTINGS, args)
    NeuralStyle(settings).transfer(maxEvals=maxEvals)


if __name__ == "__main__":
    sys.exit(run(main))
