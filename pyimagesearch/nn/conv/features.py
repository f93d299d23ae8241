"""The one place that builds the VGG feature extractor and loads its weights, and what it needs of images."""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import keras
import numpy as np

from . import backends
from .errors import ImageError, SettingsError, WeightsError, backend_error
from .settings import WEIGHTS_ENV, label

CONSTRUCTORS = {"VGG19": keras.applications.VGG19, "VGG16": keras.applications.VGG16}
# Convolutions per block; each block ends with blockN_pool. keras.applications names them so.
_BLOCKS = {"VGG16": (2, 2, 3, 3, 3), "VGG19": (2, 2, 4, 4, 4)}
_CONV_LAYERS = {net: sum(blocks) for net, blocks in _BLOCKS.items()}


def check_backend(requested: str | None = None) -> None:
    """Refuse, in one clear sentence, a Keras backend NeuralStyle has no entry for, or another backend than the
    `backend` setting asks for (Keras picks its backend once, when it is first imported)."""
    running = backends.active()
    if running not in backends.NAMES:
        raise backend_error(running)
    if requested in backends.NAMES and requested != running:  # another value: the settings check names it
        raise SettingsError(f"{label('backend')} asks for {requested}, but Keras in this process already runs on "
                            f"{running} (it picks its backend once, when first imported): pass --backend "
                            f"{requested} to the scripts, or set KERAS_BACKEND={requested} before Python starts")


def _weights_file_problem(path: str, net: str) -> str | None:
    """What makes a weights file unfit for net without its top, read from the file; None if nothing."""
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("layer_names", [])]
    except OSError:
        return "it is not a Keras HDF5 weights file"
    if not names:
        return None  # not the legacy layout (e.g. Keras 3's .weights.h5): Keras itself will judge it
    convs = [n for n in names if "_conv" in n]
    if {"fc1", "fc2", "predictions"} & set(names):
        return ("it holds the network with its classifier top (fc1, fc2, predictions); "
                f"use the no-top file, {net.lower()}_weights_tf_dim_ordering_tf_kernels_notop.h5")
    if len(convs) != _CONV_LAYERS[net]:
        other = {v: k for k, v in _CONV_LAYERS.items()}.get(len(convs))
        held = f"{other} weights" if other else f"weights of {len(convs)} convolution layers"
        return f"it holds {held}, while setting 'net' is {net} ({_CONV_LAYERS[net]} convolution layers)"
    return None


_WHERE = f"{label('weights')} or ${WEIGHTS_ENV}"


def check_weights(net: str, weights: str) -> None:
    """Refuse a weights file that is missing or visibly not net's, reading the file only (no network)."""
    if weights == "imagenet":
        return
    if not os.path.isfile(weights):
        raise WeightsError(f"weights file '{weights}' does not exist; check the {_WHERE}")
    problem = _weights_file_problem(weights, net)
    if problem:
        raise WeightsError(f"weights file '{weights}' cannot be used: {problem}")


def _load_net(net: str, weights: str) -> keras.Model:
    check_weights(net, weights)
    try:
        return CONSTRUCTORS[net](weights=weights, include_top=False)
    except Exception as e:  # Keras raises bare Exception for a failed download
        if weights == "imagenet":
            raise WeightsError(
                f"could not download the ImageNet weights for {net} ({e}); "
                f"point the {_WHERE} at a local {net.lower()} no-top .h5 file"
            ) from e
        raise WeightsError(
            f"weights file '{weights}' could not be loaded into {net} without its top "
            f"({type(e).__name__}: {e}); it must be Keras's "
            f"{net.lower()}_weights_tf_dim_ordering_tf_kernels_notop.h5 or an equivalent"
        ) from e


def layer_names(net: str) -> list[str]:
    """The layers of net without its top, in order, as keras.applications names them."""
    names = []
    for block, convs in enumerate(_BLOCKS[net], start=1):
        names += [f"block{block}_conv{i}" for i in range(1, convs + 1)] + [f"block{block}_pool"]
    return names


def check_layers(net: str, layers: list[str]) -> None:
    """Raise SettingsError, listing the valid names, for a layer the network does not have."""
    known = layer_names(net)
    for layer in layers:
        if layer not in known:
            raise SettingsError(f"{net} has no layer '{layer}' (settings 'content_layer' / 'style_layers'); "
                                f"valid layers: {', '.join(known)}")


def build_extractor(net: str, weights: str, layers: list[str], pooling: str = "max",
                    precision: str = "float32") -> keras.Model:
    """A model mapping a batch of caffe-preprocessed images to {layer name: activations}.

    Only the layers up to the deepest requested one are kept, so no time is spent past it.
    Each convolution is the backend's fastest (backends/: on TensorFlow the faster of its two exact
    kernels for the shape on this machine, on PyTorch conv2d in NCHW). pooling "avg" swaps each max-pooling layer for an
    average-pooling one of the same shape (Gatys et al. found it gives smoother pictures); the
    trained weights are the same. precision "bfloat16" runs the network in 16 bits, its input and
    the activations it hands out in float32.
    """
    base = _load_net(net, weights)
    base.trainable = False
    wanted = list(dict.fromkeys(layers))
    backend = backends.entry()
    # Images and activations go in and come out channels-last; inside, the backend's own layout.
    first = backend.DATA_FORMAT == "channels_first"
    inputs = keras.Input(shape=(None, None, 3))
    x, outputs = keras.ops.cast(inputs, precision), {}
    if first:
        x = keras.ops.transpose(x, (0, 3, 1, 2))
    for layer in base.layers[1:]:
        # New layers only: a layer of `base` would keep all of it, and its weights, alive through
        # its graph nodes, beside the copies the new layers hold.
        if isinstance(layer, keras.layers.Conv2D):
            layer = backend.conv_layer(layer, precision)
        else:
            pool = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D
            layer = pool(layer.pool_size, layer.strides, layer.padding, data_format=backend.DATA_FORMAT,
                         name=layer.name, dtype=precision)
        x = layer(x)
        if layer.name in wanted:
            outputs[layer.name] = keras.ops.cast(keras.ops.transpose(x, (0, 2, 3, 1)) if first else x, "float32")
            if len(outputs) == len(wanted):
                break
    return keras.Model(inputs=inputs, outputs={name: outputs[name] for name in wanted},
                       name=f"{net.lower()}_features")


@dataclass(frozen=True)
class Network:
    """Which feature extractor a run uses: plain values, so it travels to worker processes and Ray."""

    net: str
    weights: str  # a weights file, or "imagenet"
    layers: tuple[str, ...]  # content layer(s), then style layers
    pooling: str = "max"
    precision: str = "float32"

    def build(self) -> keras.Model:
        """The extractor (build_extractor), built once per process: the run and a worker's tiles share it."""
        if self not in _BUILT:
            _BUILT.clear()  # one network at a time: a sweep's next experiment may want another
            _BUILT[self] = build_extractor(self.net, self.weights, list(self.layers), self.pooling, self.precision)
        return _BUILT[self]


_BUILT: dict[Network, keras.Model] = {}


# Caffe-style VGG input: BGR channel order with the ImageNet mean removed.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


def preprocess_rgb(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) RGB pixels in [0, 255] -> a (1, h, w, 3) float32 batch as VGG expects."""
    # preprocess_input works in place on float arrays: hand it a copy, never the caller's.
    batch = np.array(rgb, dtype=np.float32, copy=True)[np.newaxis]
    return keras.applications.vgg19.preprocess_input(batch)


def deprocess_bgr(x: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
    """The inverse of preprocess_rgb, as uint8 BGR of shape dims + (3,) (what cv2 writes)."""
    image = np.reshape(np.asarray(x, dtype=np.float64), (dims[0], dims[1], 3)) + IMAGENET_BGR_MEAN
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def min_side(layers: list[str]) -> int:
    """Smallest image side for which every layer still has at least 2 pixels per side."""
    # VGG halves the size before each block: blockN sees 1/2^(N-1) of the image.
    deepest = max(int(name[5]) for name in layers if name.startswith("block") and name[5].isdigit())
    return 2 ** deepest


# Peak resident memory of a run is about MEMORY_BASE + MEMORY_PER_PIXEL * h * w. bench/memory.py
# measured 874 MiB + 2359 B/pixel for the loss and gradient (VGG19 to block5_conv1, 2026-11-24);
# L-BFGS keeps ~25 float64 copies of the image (~600 B/pixel) and a margin rounds both up.
MEMORY_BASE = 2**30
MEMORY_PER_PIXEL = 3200
# A tiled scale needs a tile's worth of the above, plus float32 copies of the whole picture: the
# picture so far, the photo at that scale, the painting at the matching size, a mask or a start image.
TILED_PER_PIXEL = 64


def available_memory() -> int:
    """Bytes of memory this process could still take (Linux's MemAvailable, else all RAM)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_needed(size: tuple[int, int], tile: int | None = None) -> int:
    """Bytes a run at size (w, h) needs, whole or (tile: px a side) in tiles."""
    (width, height) = size
    if tile is None or max(width, height) <= tile:
        return MEMORY_BASE + MEMORY_PER_PIXEL * height * width
    return MEMORY_BASE + MEMORY_PER_PIXEL * min(height, tile) * min(width, tile) + TILED_PER_PIXEL * height * width


def fitting_tile(size: tuple[int, int], memory: int) -> int | None:
    """The largest tile side (a multiple of 64, at most 1024) with which size (w, h) fits in memory."""
    return next((tile for tile in range(1024, 63, -64) if memory_needed(size, tile) <= memory), None)


def check_size(what: str, size: tuple[int, int], layers: list[str], setting: str, tile: int | None = None) -> None:
    """The one check of an image size: big enough for the layers, small enough for the memory.

    what names the image and what sized it ("style image 'b.jpg' at setting 'style_size' ..."), size
    is (w, h), and setting is the key whose lower value would make it fit in memory. The memory is
    sized for the output (tile: rendered in tiles of that many px a side); a style image (one forward
    pass) needs less, so this is cautious there.
    """
    (width, height) = size
    need = min_side(layers)
    if min(width, height) < need:
        raise ImageError(f"{what} is {width}x{height} px; the layers {', '.join(layers)} "
                         f"need at least {need} px on each side")
    memory = memory_needed(size, tile)
    have = available_memory()
    if memory <= have:
        return
    gib = 2.0**30
    too_much = f"{what} at {width}x{height} px would need about {memory / gib:.1f} GiB of memory, " \
               f"more than the {have / gib:.1f} GiB available"
    fit_tile = fitting_tile(size, have)
    if tile is not None and max(width, height) > tile:
        smaller = f"set {label('tile_size')} to {fit_tile} or less" if fit_tile else f"lower {label(setting)}"
        raise ImageError(f"{too_much} in tiles of {tile} px; {smaller}")
    pixels = max(have - MEMORY_BASE, 0) / MEMORY_PER_PIXEL
    fit = int((pixels * max(height, width) / min(height, width)) ** 0.5) // 64 * 64
    tiles = f", or render it in tiles with {label('tile_size')} {fit_tile}" if fit_tile and setting == "max_size" \
        else ""
    raise ImageError(f"{too_much}; set {label(setting)} to {fit} or less{tiles}")
