"""Where a run reads its settings: the project's files that read the settings dict, in the order they do.

    python bench/settings_reads.py                      # the sample at 96 px, two scales
    python bench/settings_reads.py --tile-size 64       # the same with the final scale in tiles

It builds NeuralStyle(settings) and runs transfer() (2 iterations of 1 evaluation) twice, the
second time with the resolved settings in a dict that notes the file of every read, and prints
how many files read them and how often the reading returns to a file it had already left
(consecutive reads in one file count once). A run built once reads them in its plan and its
context only.
"""

import argparse  # noqa: I001  (pyimagesearch before keras, below)
import os
import sys
import tempfile
from pathlib import Path

import pyimagesearch
import pyimagesearch.nn.conv.run_plan as run_plan
from pyimagesearch.nn.conv import NeuralStyle
from pyimagesearch.nn.conv.settings import resolve_settings

ROOT = Path(pyimagesearch.__file__).parent
INPUTS = Path(__file__).resolve().parent.parent / "inputs"


class NotingReads(dict):
    """The settings, noting which file of the project reads them."""

    files: list[str] = []

    def __getitem__(self, key):
        where = sys._getframe(1).f_code.co_filename
        if where.startswith(str(ROOT)):
            where = os.path.relpath(where, ROOT)
            if not self.files or self.files[-1] != where:
                self.files.append(where)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tile-size", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = {"input_path": str(INPUTS / "tubingen.jpg"), "style_path": str(INPUTS / "starry_night.jpg"),
                    "max_size": 96, "scales": [0.5, 1], "iterations": 2, "tile_size": args.tile_size,
                    "output_path": folder, "quiet": True, "overwrite": True}
        NeuralStyle(settings).transfer(1)  # TensorFlow started, the network built: the second run reads only
        run_plan.resolve_settings = lambda s: NotingReads(resolve_settings(s))
        NeuralStyle(settings).transfer(1)
    seen, returns = set(), 0
    for file in NotingReads.files:
        returns += file in seen
        seen.add(file)
    print(f"{len(seen)} files read the settings, {returns} returns to a file already left:")
    print(" > ".join(NotingReads.files))


if __name__ == "__main__":
    main()
