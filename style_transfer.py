"""Neural style transfer from the command line.

Edit SETTINGS below, or override any of its keys with a flag (see --help), then run:

    python style_transfer.py

To make an earlier result again: python style_transfer.py --config output/settings.json

A folder or a glob as input path paints every photo in it, each into output/<photo name>/:

    python style_transfer.py --input-path holiday/ --output-path output/holiday --workers 2

A video (or a folder of numbered frames with --frames) is painted frame by frame, each frame held
to the one before along the optical flow, into output/frame_00001.png ... and output/<name>.mp4:

    python style_transfer.py --input-path clip.mp4 --output-path output/clip --max-size 256

A print-size picture is refined coarse to fine, sizes above --tile-size in overlapping tiles (the
memory of one tile; run the same command again after a stop to continue):

    python style_transfer.py --input-path big.jpg --scales 0.25 0.5 1 --tile-size 512 --workers 2
"""

# pyimagesearch comes first on purpose: Keras picks its backend (--backend, KERAS_BACKEND, else TensorFlow)
# when it loads, and TensorFlow starts with its native start-up log held back (pyimagesearch/runtime.py).
from pyimagesearch.runtime import start_backend  # noqa: I001

start_backend()

import os  # noqa: E402
import sys  # noqa: E402

import keras  # noqa: E402
from keras.applications import VGG19  # noqa: E402

from pyimagesearch.cli import apply_flags, run, settings_parser  # noqa: E402
from pyimagesearch.nn.conv import NeuralStyle  # noqa: E402

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

    # --- beyond the chapter (these defaults keep its behaviour; see README "Settings") ---
    # None: the content image's own size; N: its long side shrunk to N px
    "max_size": None,
    # start image: "noise" (the chapter's), "content", "style", or an image path
    "init": "noise",
    # "none", "luminance" (keep the photo's colours) or "match" (recolour the style first)
    "preserve_colors": "none",
    # the style image's own scale (long side in px, or a multiple of the output's) instead of the content's size
    "style_size": None,
    "style_scale": None,
    # several style images: a list in style_path, with one weight each here (None: equal)
    "style_blend_weights": None,
    # regions: one mask per style image (white: that style here; where no mask is white, no style),
    # or one colour-label image with one colour per style image; and which part of each style image to use
    "content_masks": None,
    "mask_colors": None,
    "style_masks": None,
    # "max" (the chapter's) or "avg" pooling in the network
    "pooling": "max",
    # "float32", or "bfloat16": the network in 16 bits, about 1.7x faster on CPUs with AVX-512 BF16 / AMX
    # and on recent GPUs (refused where it would not be faster)
    "precision": "float32",
    # the Keras backend: None (KERAS_BACKEND's, else "tensorflow"), "tensorflow", "torch" (NVIDIA, AMD and Apple
    # GPUs, Windows) or "jax"; see README "Installing" for what to install
    "backend": None,
    # "lbfgs" (the chapter's) or "adam" with its learning_rate
    "optimizer": "lbfgs",
    "learning_rate": 10.0,
    # per-layer weights of the content layer(s) and style layers (None: equal, the chapter's)
    "content_layer_weights": None,
    "style_layer_weights": None,
    # how the picture's features are compared with the painting's: "gram" (the chapter's Gram matrices),
    # "w2" (mean and covariance) or "sliced" (their whole distribution along random directions)
    "style_loss": "gram",
    # "chapter" or "size_invariant" (the same weights mean the same at every size)
    "loss_normalization": "chapter",
    # coarse to fine, e.g. [0.25, 0.5, 1.0]: the iterations split over these fractions of the size
    "scales": None,
    # print-size pictures: scales larger than tile_size px are refined in overlapping tiles (memory of one
    # tile), tile_overlap px apart (None: tile_size / 8), tile_passes passes with the grid shifted between
    "tile_size": None,
    "tile_overlap": None,
    "tile_passes": 2,
    # video (input_path a clip, or a folder of numbered frames with frames True): the temporal loss's
    # weight, the iterations of each frame after the first, and the optical flow ("dis" or "farneback")
    "frames": False,
    "temporal_weight": 500.0,
    "frame_iterations": None,
    "flow": "dis",
    # write every Nth iteration's image only (the last always)
    "save_every": 1,
    # True: print only errors (no progress bar, no [INFO] lines)
    "quiet": False,

    # None: a new noise start image each run; a number: the same image every time
    "seed": None,

    # None: $NEURALSTYLE_WEIGHTS if set, else Keras downloads the ImageNet weights
    "weights": None,

    # refuse (False) or replace (True) the images of a run with other settings in output_path
    "overwrite": False,
}


def parser():
    p = settings_parser(SETTINGS, description=__doc__)
    batch = p.add_argument_group("folders of photos (input path a folder or a glob), tiles of a print (--tile-size)")
    batch.add_argument("--workers", type=int, default=1,
                       help="photos, or tiles, at once on this machine, each worker in its own process")
    batch.add_argument("--ray-address", metavar="ADDRESS",
                       help="paint the photos, or tiles, as tasks on this Ray cluster ('auto' finds a local one); "
                       "needs pip install '.[ray]', and for photos an output folder every node can reach")
    web = p.add_argument_group("the local web page")
    web.add_argument("--web", action="store_true", help="open a page in the browser instead of painting once: "
                     "drop a photo and paintings, move sliders, watch it paint (these SETTINGS and flags are its "
                     "starting values; every run goes under --output-path); needs pip install -e '.[web]'")
    web.add_argument("--host", default="127.0.0.1", help="with --web: the address to listen on (0.0.0.0: every "
                     "machine that can reach this one may open the page)")
    web.add_argument("--port", type=int, default=None, help="with --web: the port (default 7860 or the next free)")
    return p


def main(argv: list[str] | None = None) -> None:
    from pyimagesearch.batch import is_batch, run_batch
    from pyimagesearch.nn.conv.video import is_video, transfer_video

    args = parser().parse_args(argv)
    (settings, maxEvals) = apply_flags(SETTINGS, args)
    if argv is None and settings["backend"] and settings["backend"] != keras.backend.backend():
        # SETTINGS asks for another backend than Keras started on (it picks one when first imported): the
        # script starts again on that one, as --backend would have.
        os.execv(sys.executable, [sys.executable, *sys.argv, "--backend", settings["backend"]])
    if args.web:
        from pyimagesearch.web.serve import serve

        serve(settings["output_path"], settings, getattr(args, "max_evals", None), host=args.host, port=args.port)
        return
    if is_video(settings["input_path"], bool(settings.get("frames"))):
        transfer_video(settings, maxEvals)
        return
    if is_batch(settings["input_path"]):
        run_batch(settings, maxEvals, workers=args.workers, ray_address=args.ray_address)
        return
    ns = NeuralStyle(settings)
    if (args.workers != 1 or args.ray_address) and not ns.plan.tiled(ns.plan.final_dims) and not ns.S["quiet"]:
        print("[INFO] --workers and --ray-address spread the photos of a folder or the tiles of a picture "
              "(--tile-size); this picture is painted whole, here")
    ns.transfer(maxEvals=maxEvals, workers=args.workers, ray_address=args.ray_address)


if __name__ == "__main__":
    sys.exit(run(main))
