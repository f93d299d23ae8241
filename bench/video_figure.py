"""A few seconds of video from the sample photo, painted with temporal consistency: GIF, strip, timing.

    python bench/video_figure.py --size 256 --frames 36 --fps 12

Makes a clip from inputs/tubingen.jpg (a slow pan to the right with a slight zoom in, written
as an mp4 with OpenCV), paints it with style_transfer.py's video path (frame 1: --iterations
rounds from the photo; later frames: --frame-iterations rounds from the previous frame warped
along the DIS flow, plus the temporal loss), then writes docs/video.gif (the painted clip) and
docs/video_strip.jpg (every sixth frame, photo above, painting below) and prints the seconds per
frame and the warping error between consecutive frames (mean absolute difference after warping
the previous painted frame along the content's flow, over the pixels the check trusts).
"""

import argparse
import os
import sys
import tempfile
import time

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pyimagesearch.runtime import start_backend  # noqa: E402

start_backend()

from pyimagesearch.nn.conv.video import consistency, optical_flow, transfer_video, warp  # noqa: E402

PHOTO, PAINTING = "inputs/tubingen.jpg", "inputs/starry_night.jpg"


def make_clip(path: str, size: int, frames: int, fps: float) -> list[np.ndarray]:
    """A pan from left to right across the photo while zooming in by 10 %, as RGB frames and an mp4."""
    photo = np.asarray(Image.open(PHOTO).convert("RGB"), np.float32)
    ph, pw = photo.shape[:2]
    out_w, out_h = size, round(size * 3 / 4)
    clip = []
    for t in range(frames):
        f = t / max(frames - 1, 1)
        crop_w = pw * (0.8 - 0.08 * f)
        crop_h = crop_w * out_h / out_w
        x0, y0 = (pw - crop_w) * f, (ph - crop_h) * 0.5
        # An affine map from the output frame into the photo (sub-pixel, so the motion is smooth).
        matrix = np.float32([[crop_w / out_w, 0, x0], [0, crop_h / out_h, y0]])
        frame = cv2.warpAffine(photo, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        clip.append(np.clip(frame, 0, 255).astype(np.uint8))
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (out_w, out_h))
    for frame in clip:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return clip


def warping_error(content: list[np.ndarray], painted: list[np.ndarray]) -> float:
    errors = []
    for (a, b), (pa, pb) in zip(zip(content, content[1:], strict=False), zip(painted, painted[1:], strict=False),
                                strict=True):
        backward, forward = optical_flow(b, a), optical_flow(a, b)
        trusted = consistency(forward, backward)
        diff = np.abs(warp(pa.astype(np.float32), backward) - pb.astype(np.float32)).mean(-1)
        errors.append(float((diff * trusted).sum() / max(trusted.sum(), 1)))
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--fps", type=float, default=12)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--frame-iterations", type=int, default=2)
    parser.add_argument("--max-evals", type=int, default=15)
    parser.add_argument("--gif", default="docs/video.gif")
    parser.add_argument("--strip", default="docs/video_strip.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        clip_path = os.path.join(work, "neckar_pan.mp4")
        content = make_clip(clip_path, args.size, args.frames, args.fps)
        out = os.path.join(work, "painted")
        start = time.perf_counter()
        transfer_video({"input_path": clip_path, "style_path": PAINTING, "output_path": out, "init": "content",
                        "iterations": args.iterations, "frame_iterations": args.frame_iterations, "seed": 0,
                        "loss_normalization": "size_invariant"}, args.max_evals)
        seconds = time.perf_counter() - start
        painted = [np.asarray(Image.open(os.path.join(out, f"frame_{i:05d}.png"))) for i in range(1, args.frames + 1)]
    print(f"{args.frames} frames at {painted[0].shape[1]}x{painted[0].shape[0]} in {seconds:.0f} s "
          f"({seconds / args.frames:.1f} s per frame, the first included)")
    print(f"warping error (levels): painted {warping_error(content, painted):.2f}, "
          f"the photo's own frames {warping_error(content, content):.2f}")
    frames = [Image.fromarray(p) for p in painted]
    frames[0].save(args.gif, save_all=True, append_images=frames[1:], duration=round(1000 / args.fps), loop=0,
                   optimize=True)
    picked = list(range(0, args.frames, max(1, args.frames // 6)))[:6]
    w, h = frames[0].size
    font = ImageFont.load_default(size=14)
    sheet = Image.new("RGB", (len(picked) * (w + 4), 2 * h + 24), "white")
    for k, t in enumerate(picked):
        sheet.paste(Image.fromarray(content[t]), (k * (w + 4), 20))
        sheet.paste(frames[t], (k * (w + 4), h + 24))
        ImageDraw.Draw(sheet).text((k * (w + 4) + 4, 3), f"frame {t + 1}", fill="black", font=font)
    sheet.save(args.strip, quality=88)
    print(f"wrote {args.gif} and {args.strip}")


if __name__ == "__main__":
    main()
