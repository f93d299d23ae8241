"""The one place that reads and writes image files.

Reading goes through Pillow, which knows every mode and the EXIF orientation; notebook users
may pass a NumPy array or a Pillow image wherever a path goes (arrays are RGB, as Pillow and
matplotlib give them, uint8 or float in [0, 1] or [0, 255]). Writing
encodes with OpenCV (our arrays are BGR, as the chapter's cv2.imwrite expected) and
replaces the target in one rename, so no reader ever sees half a file.
"""

from __future__ import annotations

import hashlib
import os

import cv2
import numpy as np
from PIL import Image, ImageOps

from .atomic import write_atomic
from .errors import ImageError

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

# What may stand where settings take an image: a file path, an RGB array or a Pillow image.
ImageSource = str | os.PathLike | np.ndarray | Image.Image


def is_in_memory(source: object) -> bool:
    return isinstance(source, (np.ndarray, Image.Image))


def describe(source: ImageSource) -> str:
    """How messages and settings.json name an image: its path, or the array's shape and digest."""
    if isinstance(source, Image.Image):
        source = np.asarray(source)
    if isinstance(source, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(source).tobytes()).hexdigest()[:12]
        return f"<array {'x'.join(map(str, source.shape))} {source.dtype} sha1:{digest}>"
    return os.fspath(source)


def _from_array(array: np.ndarray) -> Image.Image:
    values = np.asarray(array)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (3, 4)) or min(values.shape[:2]) < 1:
        raise ImageError(f"an image array must have shape (h, w), (h, w, 3) RGB or (h, w, 4) RGBA, "
                         f"got {values.shape}")
    if values.dtype != np.uint8:
        if not np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_:
            raise ImageError(f"an image array must hold numbers, got dtype {values.dtype}")
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            raise ImageError("an image array holds NaN or infinite values")
        peak = values.max(initial=0)
        if np.issubdtype(array.dtype, np.floating):
            top = 1.0 if peak <= 1.0 else 255.0
        else:  # 16-bit integers as 16-bit image files hold them
            top = 65535.0 if peak > 255 else 255.0
        values = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return _to_rgb(Image.fromarray(values))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB, without clipping high-bit-depth images."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        # Transparent areas are shown on white, as image viewers and browsers do.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit, 32-bit and float images: Pillow's own convert() would clip them to 255.
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and values.max(initial=0) <= 1.0 else (
            65535.0 if values.max(initial=0) > 255 else 255.0)
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return image.convert("RGB")


def open_rgb(path: ImageSource) -> Image.Image:
    """The image at path, upright (EXIF), first frame, as RGB; ImageError names the file."""
    if isinstance(path, np.ndarray):
        return _from_array(path)
    if isinstance(path, Image.Image):
        return _to_rgb(path)
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ImageError(f"'{path}' is a folder, not an image file")
    try:
        with Image.open(path) as image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)
            image.load()
            return _to_rgb(image)
    except FileNotFoundError:
        raise ImageError(f"image file '{path}' does not exist") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"image file '{path}' is too large to open safely: {e}") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"'{path}' could not be read as an image ({e})") from None


def image_size(path: ImageSource) -> tuple[int, int]:
    """(width, height) of the image as it is shown, i.e. after EXIF rotation."""
    return open_rgb(path).size


def scaled_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(w, h) of an image of size (w, h) drawn with the given long side, keeping its proportions."""
    (w, h) = size
    scale = long_side / max(w, h)
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def load_rgb(path: ImageSource, size: tuple[int, int] | None = None) -> np.ndarray:
    """float32 RGB pixels in [0, 255], shape (h, w, 3), resized to size=(w, h) when given."""
    image = open_rgb(path)
    if size is not None and image.size != tuple(size):
        image = image.resize(tuple(size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32)


# Formats that hold at most 8 bits a channel as read here (PNG, TIFF, PPM can hold 16).
_EIGHT_BIT_FORMATS = {"JPEG", "MPO", "WEBP", "GIF", "BMP"}


def is_deep(source: ImageSource) -> bool:
    """Whether an image holds more than 8 bits per channel (a 16-bit PNG or TIFF, a uint16 array)."""
    if isinstance(source, Image.Image):
        source = np.asarray(source)
    if isinstance(source, np.ndarray):
        return source.dtype == np.uint16
    with Image.open(source) as image:  # reads the header only
        if image.format in _EIGHT_BIT_FORMATS:
            return False  # no need to decode the whole photo to know
    # Pillow reads a 48-bit RGB PNG as 8-bit RGB; OpenCV keeps its 16 bits, and says so in the dtype.
    pixels = cv2.imdecode(np.fromfile(os.fspath(source), np.uint8), cv2.IMREAD_UNCHANGED)
    return pixels is not None and pixels.dtype == np.uint16


def write_rgb16(path: str, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 255] (not rounded to 8 bits) as a 16-bit PNG, atomically."""
    deep = np.rint(np.clip(np.asarray(rgb, np.float64), 0, 255) * (65535 / 255)).astype(np.uint16)
    write_image(path, np.ascontiguousarray(deep[..., ::-1]))


def write_rgb(path: str, rgb: np.ndarray) -> None:
    """write_image for an RGB uint8 image (what transfer() returns and callbacks see)."""
    write_image(path, np.ascontiguousarray(rgb[..., ::-1]))


def write_image(path: str, bgr: np.ndarray) -> None:
    """Write a BGR uint8 (or, as PNG, uint16) image atomically, in the format its extension names."""
    suffix = os.path.splitext(path)[1] or ".png"
    ok, encoded = cv2.imencode(suffix, bgr)
    if not ok:
        raise ImageError(f"could not encode an image for '{path}' (is '{suffix}' an image type?)")
    write_atomic(path, encoded.tobytes())
