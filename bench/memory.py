"""Peak resident memory of a short run at several sizes, each in a fresh process.

    python bench/memory.py --image ../shared/images/tubingen.jpg 256 512 1024

prints long side, pixels and peak RSS, and the straight line through them that
pyimagesearch/nn/conv/features.py uses to refuse sizes that would not fit in memory.
"""

import argparse
import json
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import json, resource, sys, numpy as np
from pyimagesearch.nn.conv import NeuralStyle
import pyimagesearch.nn.conv.features as features
features.available_memory = lambda: 2**50  # measuring the very thing the memory check estimates
ns = NeuralStyle({"input_path": sys.argv[3], "max_size": int(sys.argv[1]), "output_path": sys.argv[2],
                  "iterations": 1})
X = np.random.uniform(0, 255, (1, *ns.dims, 3)).ravel() - 128
for _ in range(3):
    ns.lossAndGrads(X)
# VmHWM, not ru_maxrss: the latter survives exec, so a child of a big parent would report the parent's peak.
try:
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"dims": ns.dims, "rss": rss}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="inputs/tubingen.jpg", help="content image (at least the largest size)")
    parser.add_argument("sizes", nargs="*", type=int, default=[256, 512, 1024], help="long sides to measure")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([sys.executable, "-c", CHILD, str(size), out, args.image],
                                  capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        pixels = row["dims"][0] * row["dims"][1]
        rows.append((pixels, row["rss"]))
        print(f"{size:5d} px  {row['dims'][1]}x{row['dims'][0]}  {pixels:9d} pixels  "
              f"peak RSS {row['rss'] / 2**20:8.0f} MiB", flush=True)
    if len(rows) > 1:
        slope, base = np.polyfit([p for p, _ in rows], [r for _, r in rows], 1)
        print(f"fit: {base / 2**20:.0f} MiB + {slope:.0f} bytes/pixel")


if __name__ == "__main__":
    main()
