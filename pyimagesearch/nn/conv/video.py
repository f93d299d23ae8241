"""Video: every frame painted with the same settings, each held to the one before (Ruder et al. 2016).

Painted one by one from noise, the frames of a clip flicker: each lands in another local minimum.
Ruder et al. ("Artistic style transfer for videos", 2016) start each frame from the previous
stylised frame warped along the optical flow between the two *content* frames, and add a temporal
loss on the pixels whose flow passes a forward-backward check; pixels that were hidden in the
previous frame (disoccluded) or lie on motion boundaries are left free. Here OpenCV's DIS (or
Farneback) flow stands in for their external DeepFlow binaries.

A clip is anything OpenCV reads, or a folder of numbered frames (frames=True). The run folder
holds frame_00001.png, ... (each written atomically when its frame is done), <name>.mp4 at the
clip's frame rate, and settings.json with each frame's loss; running the same command again
continues at the first unfinished frame.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .atomic import interrupts_held
from .errors import ImageError, SettingsError
from .evaluator import optimise
from .features import check_backend, preprocess_rgb
from .images import image_size, load_rgb, scaled_size, write_rgb
from .losses import TemporalTarget
from .progress import duration
from .run_context import RunContext
from .run_folder import RECORD, other_run, read_record, run_record, write_record
from .run_plan import plan_run
from .settings import label, positive_int, resolve_settings, weights_source

# What input_path names when it is a clip (anything else is an image, or a folder of photos).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ogv")
FRAME_NAME = "frame_{:05d}.png"
DEFAULT_FPS = 24.0  # for a folder of frames, or a clip that does not say


def is_video(input_path: Any, frames: bool = False) -> bool:
    """Whether input_path names a clip (by its suffix), or, with frames, a folder of numbered frames."""
    if not isinstance(input_path, (str, os.PathLike)):
        return False
    path = os.fspath(input_path)
    return (frames and os.path.isdir(path)) or os.path.splitext(path)[1].lower() in VIDEO_SUFFIXES


# -- reading a clip ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    """A clip's frames (read again on each call of frames(), so a long clip is never held whole)."""

    path: str
    count: int
    fps: float
    size: tuple[int, int]  # (w, h) as read
    files: tuple[str, ...] = ()  # a folder's frame files, in order; empty for a video file

    @property
    def name(self) -> str:
        return os.path.splitext(os.path.basename(os.path.normpath(self.path)))[0] or "video"

    def frames(self, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        """float32 RGB frames in [0, 255], resized to size=(w, h) when given."""
        if self.files:
            for file in self.files:
                yield load_rgb(file, size=size)
            return
        capture = cv2.VideoCapture(self.path)
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield load_rgb(np.ascontiguousarray(bgr[..., ::-1]), size=size)
        finally:
            capture.release()


def _frame_number(path: str) -> tuple[int, str]:
    numbers = re.findall(r"\d+", os.path.basename(path))
    return (int(numbers[-1]) if numbers else -1, os.path.basename(path))


def open_clip(path: str, frames: bool = False) -> Clip:
    """The clip at path, checked: readable, with frames, one frame size throughout (ImageError otherwise)."""
    if frames and os.path.isdir(path):
        files = sorted((f for f in glob.glob(os.path.join(glob.escape(path), "*")) if os.path.isfile(f)
                        and not os.path.basename(f).startswith(".")), key=_frame_number)
        if not files:
            raise ImageError(f"frames folder '{path}' holds no frames")
        sizes = [image_size(f) for f in files]  # ImageError names a file that is no image
        for file, size in zip(files, sizes, strict=True):
            if size != sizes[0]:
                raise ImageError(f"frame '{file}' is {size[0]}x{size[1]} px, the frames before it "
                                 f"{sizes[0][0]}x{sizes[0][1]}: every frame of a clip must have one size")
        return Clip(path, len(files), DEFAULT_FPS, sizes[0], tuple(files))
    if not os.path.isfile(path):
        raise ImageError(f"video file '{path}' does not exist")
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise ImageError(f"'{path}' could not be opened as a video (OpenCV reads mp4, avi, mov, mkv, webm, ...)")
        fps = capture.get(cv2.CAP_PROP_FPS)
        count, size = 0, None
        while True:  # every frame decoded once: the true count, and a size change found before any work
            ok, bgr = capture.read()
            if not ok:
                break
            frame_size = (int(bgr.shape[1]), int(bgr.shape[0]))
            if size is not None and frame_size != size:
                raise ImageError(f"frame {count + 1} of '{path}' is {frame_size[0]}x{frame_size[1]} px, the frames "
                                 f"before it {size[0]}x{size[1]}: every frame of a clip must have one size")
            size, count = frame_size, count + 1
    finally:
        capture.release()
    if not count or size is None:
        raise ImageError(f"video '{path}' has no frames that OpenCV can decode")
    return Clip(path, count, float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS, size)


# -- optical flow, warping, the consistency check ------------------------------------------------------

def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def optical_flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> np.ndarray:
    """(h, w, 2) float32 flow from RGB frame a to b: a(x) is seen at b(x + flow(x))."""
    grey_a, grey_b = _grey(a), _grey(b)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(grey_a, grey_b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey_a, grey_b, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image sampled at x + flow(x) (bilinear; the border repeated outside)."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(np.asarray(image, np.float32), grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(h, w) float32: 1 where a pixel of the new frame can be traced back to the previous frame and forth again.

    backward: flow from the new frame to the previous; forward: from the previous to the new. As in
    Ruder et al.: a pixel fails where the forward flow at its backward target does not point back
    (|f + b|^2 > 0.01 (|f|^2 + |b|^2) + 0.5: hidden in the previous frame), on motion boundaries
    (|grad b|^2 > 0.01 |b|^2 + 0.002), or where it came from outside the previous frame.
    """
    h, w = backward.shape[:2]
    forward_there = warp(forward, backward)
    mismatch = np.sum((forward_there + backward) ** 2, axis=-1)
    occluded = mismatch > 0.01 * (np.sum(forward_there ** 2, -1) + np.sum(backward ** 2, -1)) + 0.5
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    boundary = du_x ** 2 + du_y ** 2 + dv_x ** 2 + dv_y ** 2 > 0.01 * np.sum(backward ** 2, -1) + 0.002
    xs = np.arange(w, dtype=np.float32)[None, :] + backward[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + backward[..., 1]
    outside = (xs < 0) | (xs > w - 1) | (ys < 0) | (ys > h - 1)
    return (~(occluded | boundary | outside)).astype(np.float32)


# -- the run folder of a video ---------------------------------------------------------------------------

class VideoFolder:
    """frame_<n>.png per finished frame, settings.json with each frame's loss and its terms, <name>.mp4 at the
    end."""

    def __init__(self, path: str, record: dict[str, Any]) -> None:
        self.path, self.record = path, record
        self.losses: dict[int, float] = {}
        self.terms: dict[int, dict[str, float]] = {}  # each frame's weighted loss terms, by name

    def frame_path(self, i: int) -> str:
        return os.path.join(self.path, FRAME_NAME.format(i + 1))

    def claim(self, overwrite: bool, count: int) -> list[int]:
        """Refuse frames of a run with other settings (unless overwrite); return the finished frames."""
        done = [i for i in range(count) if os.path.isfile(self.frame_path(i))]
        frames = glob.glob(os.path.join(glob.escape(self.path), "frame_*.png"))
        if frames and other_run(self.path, self.record, overwrite, f"{len(frames)} frames"):
            for file in frames:
                os.remove(file)
            done = []
        elif done:  # the same run: its finished frames keep their losses
            old = read_record(os.path.join(self.path, RECORD))
            self.losses = {int(k): v for k, v in (old.get("frame_losses") or {}).items() if int(k) in done}
            self.terms = {int(k): v for k, v in (old.get("frame_terms") or {}).items() if int(k) in done}
        self._write_record()
        return done

    def keep(self, i: int, image: np.ndarray, loss: float, terms: dict[str, float] | None = None) -> None:
        write_rgb(self.frame_path(i), image)
        self.losses[i] = float(loss)
        self.terms[i] = {name: float(value) for name, value in (terms or {}).items()}
        self._write_record()

    def _write_record(self) -> None:
        write_record(self.path, {**self.record, "frame_losses": {str(i): v for i, v in sorted(self.losses.items())},
                                 "frame_terms": {str(i): v for i, v in sorted(self.terms.items())}})


def _ffmpeg() -> str | None:
    """The ffmpeg that the imageio-ffmpeg package ships (pip install '.[video]'), if it is installed."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def write_video(path: str, frame_files: list[str], fps: float, sound_from: str | None = None) -> bool:
    """The frames as an mp4 at fps, renamed into place when whole; True when it carries sound_from's sound.

    With imageio-ffmpeg installed, the clip is H.264 (plays in browsers) with the source's audio
    track, if it has one; without it, OpenCV's mp4v and no sound (OpenCV writes pictures only).
    """
    first = cv2.imread(frame_files[0])
    partial = os.path.join(os.path.dirname(path) or ".", f".partial-{os.path.basename(path)}")
    writer = cv2.VideoWriter(partial, cv2.VideoWriter_fourcc(*"mp4v"), fps, (first.shape[1], first.shape[0]))
    if not writer.isOpened():
        raise ImageError(f"OpenCV could not write the video '{path}'")
    try:
        for file in frame_files:
            writer.write(cv2.imread(file))
    finally:
        writer.release()
    ffmpeg = _ffmpeg()
    if ffmpeg is None:
        os.replace(partial, path)
        return False
    encoded = partial + ".h264.mp4"
    sound = ["-i", sound_from, "-map", "1:a:0?", "-c:a", "aac", "-shortest"] if sound_from else []
    done = subprocess.run([ffmpeg, "-y", "-v", "error", "-i", partial, *sound[:2], "-map", "0:v:0", *sound[2:],
                           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", encoded], capture_output=True,
                          text=True)
    if done.returncode != 0:  # keep the OpenCV file: a picture without sound beats none
        os.replace(partial, path)
        return False
    os.replace(encoded, path)
    os.remove(partial)
    return bool(sound_from) and _has_sound(ffmpeg, path)


def _has_sound(ffmpeg: str, path: str) -> bool:
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", path], capture_output=True, text=True)
    return "Audio:" in probe.stderr


# -- painting a clip -------------------------------------------------------------------------------------

def frame_iterations(s: Mapping[str, Any]) -> int:
    return s["frame_iterations"] or max(1, s["iterations"] // 2)


def transfer_video(settings: Mapping[str, Any], max_evals: int = 20,
                   report: Callable[[str], None] | None = None) -> str:
    """Paint every frame of the clip settings["input_path"] names; return the path of the mp4 written.

    Frame 1 runs `iterations` rounds from the `init` setting; every later frame `frame_iterations`
    rounds from the previous result warped along the flow, with the temporal loss (module docstring).
    """
    max_evals = positive_int("maxEvals (--max-evals)", max_evals)
    s = resolve_settings(settings)
    say = report or ((lambda line: None) if s["quiet"] else print)
    for key, why in (("scales", "a video's frames after the first start from the previous frame, already at full "
                                "size; leave scales at None"),
                     ("tile_size", "a video's frames are painted whole; leave tile_size at None (max_size sets the "
                                   "frames' size)")):
        if s[key]:
            raise SettingsError(f"{label(key)} is for single pictures: {why}")
    clip = open_clip(s["input_path"], s["frames"])
    size = clip.size if not s["max_size"] or max(clip.size) <= s["max_size"] else scaled_size(clip.size,
                                                                                              s["max_size"])
    plan = plan_run({**s, "input_path": next(clip.frames(size))})  # every other check, on the first frame
    check_backend(s["backend"])
    folder = VideoFolder(s["output_path"], {**run_record({**plan.settings, "input_path": s["input_path"]}, max_evals,
                                                         weights_source(s["weights"]), plan.seed_drawn),
                                            "frames": clip.count, "fps": clip.fps})
    done = set(folder.claim(s["overwrite"], clip.count))
    say(f"[VIDEO] '{clip.path}': {clip.count} frames at {clip.fps:g} fps, painted at {size[0]}x{size[1]} px into "
        f"'{folder.path}'" + (f"; {len(done)} already done" if done else ""))
    run = RunContext.build(plan, say)
    paint_frames(run, clip, folder, done, max_evals, (frame_iterations(s), s["flow"]), say)
    video = os.path.join(folder.path, f"{clip.name}.mp4")
    sound = write_video(video, [folder.frame_path(i) for i in range(clip.count)], clip.fps,
                        None if clip.files else clip.path)
    say(f"[VIDEO] wrote '{video}' ({clip.count} frames, {clip.fps:g} fps, "
        + ("with the clip's sound)" if sound else "no sound)" if _ffmpeg() or clip.files else
           "no sound: pip install imageio-ffmpeg to keep the clip's sound)"))
    return video


def paint_frames(run: RunContext, clip: Clip, folder: VideoFolder, done: set[int], max_evals: int,
                 later: tuple[int, str], say: Callable[[str], None]) -> None:
    """Paint the clip's frames not in done, each kept (frame file, then its loss) before it is reported.

    later: (rounds of every frame after the first, the optical flow to use)."""
    (h, w), (rounds_later, flow) = run.final_dims, later
    previous: tuple[np.ndarray, np.ndarray] | None = None  # (content frame, its painting), RGB float32
    start = time.perf_counter()
    for i, frame in enumerate(clip.frames((w, h))):
        if i in done:
            previous = (frame, load_rgb(folder.frame_path(i)))
            continue
        began = time.perf_counter()
        temporal, X = (None, None) if previous is None else held_to(previous, frame, flow)
        # The run's stage with this frame as content (styles, masks: as for a picture; colours matched per frame).
        stage = run.stage((h, w), content=frame, temporal=temporal)
        rounds = run.iterations if temporal is None else rounds_later
        best = optimise(stage, run.optimizer, (run.start_image(stage) if X is None else X).ravel(), rounds,
                        max_evals)
        image = run.picture(best.image, (h, w), stage.contentRGB)
        with interrupts_held():  # the frame is kept whole before a Ctrl-C counts
            folder.keep(i, image, best.loss, terms=best.terms)
        previous = (frame, image.astype(np.float32))
        # Later frames run fewer rounds than the first: the ETA counts theirs at this frame's pace per round.
        eta = (clip.count - i - 1) * rounds_later * (time.perf_counter() - began) / rounds
        say(f"[VIDEO] frame {i + 1}/{clip.count}: loss {best.loss:.4e}"
            + (f", {best.terms['temporal']:.3e} of it temporal" if temporal is not None else "")
            + f"; {time.perf_counter() - began:.1f} s; elapsed {duration(time.perf_counter() - start)}, "
            f"ETA {duration(eta)}")


def held_to(previous: tuple[np.ndarray, np.ndarray], frame: np.ndarray,
            flow: str) -> tuple[TemporalTarget, np.ndarray]:
    """A frame's hold on the one before (previous: its content frame and painting): the painting warped along
    the flow, weighed where the flow passes the consistency check; and that warped painting as its start."""
    backward = optical_flow(frame, previous[0], flow)
    forward = optical_flow(previous[0], frame, flow)
    warped = preprocess_rgb(warp(previous[1], backward))
    weights = consistency(forward, backward)[None, ..., None]
    return TemporalTarget(warped, weights.astype(np.float32)), warped.astype(np.float64)
