"""Where one evaluation's time goes, by TensorFlow op type.

    python bench/op_profile.py --size 256x256 --evals 5

Builds NeuralStyle on the sample pair at the given size, warms the evaluation up, then records
`--evals` evaluations with TensorFlow's profiler and prints, per op type (Conv2D,
Conv2DBackpropInput, MaxPoolGrad, ...), the milliseconds per evaluation spent in it and its
share, from the profiler's host trace (the CPU's op kernels). Prints the machine's CPU first.
"""

import argparse
import collections
import glob
import os
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyimagesearch.runtime import start_backend  # noqa: E402

start_backend()

import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from pyimagesearch.nn.conv import NeuralStyle  # noqa: E402
from pyimagesearch.nn.conv.backends.on_tensorflow import onednn_enabled  # noqa: E402
from pyimagesearch.nn.conv.device import describe_device  # noqa: E402


def op_times(logdir: str) -> dict[str, float]:
    """Seconds per op type, summed over the TensorFlow op events of the recorded trace."""
    totals: dict[str, float] = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            names = {k: v.name for k, v in plane.event_metadata.items()}
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):  # the executor's threads, which run the op kernels
                    continue
                for event in line.events:
                    name = names.get(event.metadata_id, "")
                    if ":" in name and "::" not in name:  # "scope/name:OpType", not the executor's own "A::B"
                        totals[name.rsplit(":", 1)[1]] += event.duration_ps * 1e-12
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="256x256", help="WIDTHxHEIGHT")
    parser.add_argument("--evals", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    (w, h) = (int(v) for v in args.size.lower().split("x"))
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    print(f"{describe_device()} · TensorFlow's oneDNN {'on' if onednn_enabled() else 'off'}"
          f"{f', held to {isa}' if isa else ''}")
    with tempfile.TemporaryDirectory() as work:
        paths = {}
        for name, source in (("content", "inputs/tubingen.jpg"), ("style", "inputs/starry_night.jpg")):
            paths[name] = os.path.join(work, f"{name}.png")
            Image.open(source).convert("RGB").resize((w, h), Image.Resampling.LANCZOS).save(paths[name])
        ns = NeuralStyle({"input_path": paths["content"], "style_path": paths["style"],
                          "output_path": os.path.join(work, "out"), "quiet": True})
        X = np.random.default_rng(0).uniform(-128, 128, h * w * 3)
        for _ in range(3):
            ns.lossAndGrads(X)
        logdir = os.path.join(work, "trace")
        tf.profiler.experimental.start(logdir)
        for _ in range(args.evals):
            ns.lossAndGrads(X)
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    whole = sum(totals.values())
    print(f"\n{w}x{h}: {whole / args.evals * 1000:.0f} ms of op time per evaluation\n")
    print("| op | ms / evaluation | share |\n|---|---|---|")
    for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"| {kind} | {seconds / args.evals * 1000:.1f} | {seconds / whole:.1%} |")


if __name__ == "__main__":
    main()
