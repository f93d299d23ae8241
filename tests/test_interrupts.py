"""A Ctrl-C at any moment between one round's end and the next round's start keeps every finished iteration.

The interrupt is a real SIGINT, raised at the k-th call of the project's own code after a round has
ended, for every k until the next round starts: each point where the loop could be between its
steps (the picture made, the file written, settings.json written, the line printed, the callback).
"""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import NeuralStyle
from pyimagesearch.nn.conv.optimizers import LBFGS, OPTIMIZERS

SHALLOW = {"content_layer": "block2_conv2", "style_layers": ["block1_conv1", "block2_conv1"]}


class Interrupter:
    """Raises SIGINT at the `at`-th call into pyimagesearch after round `after` ends, if the next round has
    not started by then (then `reached_next`: no point of the gap is left at this k)."""

    def __init__(self, at: int, after: int = 1) -> None:
        self.at, self.after, self.calls, self.rounds, self.fired, self.reached_next = at, after, 0, 0, False, False

    def round_starts(self) -> None:
        sys.setprofile(None)
        self.rounds += 1
        self.reached_next = self.reached_next or (self.rounds == self.after + 1 and not self.fired)

    def round_ended(self) -> None:
        if self.rounds == self.after:
            sys.setprofile(self.hook)

    def hook(self, frame, event, arg) -> None:
        if event != "call" or f"{Path('pyimagesearch')}" not in frame.f_code.co_filename:
            return
        self.calls += 1
        if self.calls == self.at:
            sys.setprofile(None)
            self.fired = True
            signal.raise_signal(signal.SIGINT)


@pytest.fixture
def watched_rounds(monkeypatch):
    """The optimiser table's L-BFGS, telling an Interrupter when its rounds start and end."""
    state = {}

    class Watched(LBFGS):
        def round(self, evaluate, X, max_evals):
            state["interrupter"].round_starts()
            try:
                return super().round(evaluate, X, max_evals)
            finally:
                state["interrupter"].round_ended()

    monkeypatch.setitem(OPTIMIZERS, "lbfgs", Watched)
    yield state
    sys.setprofile(None)


def ended_iterations(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"end of iteration (\d+)", output)]


@pytest.mark.parametrize("save_every", [1, 2])
def test_an_interrupt_between_rounds_never_loses_a_finished_iteration(tiny_images, tmp_path, capsys,
                                                                       watched_rounds, save_every):
    points = 0
    for at in range(1, 400):
        interrupter = watched_rounds["interrupter"] = Interrupter(at)
        folder = tmp_path / f"{save_every}-{at}"
        ns = NeuralStyle({**tiny_images, **SHALLOW, "output_path": str(folder), "iterations": 3, "seed": 0,
                          "save_every": save_every})
        capsys.readouterr()
        try:
            ns.transfer(maxEvals=2, callback=lambda i, image, terms: None)
        except KeyboardInterrupt:
            pass
        else:
            assert not interrupter.fired, f"the interrupt at call {at} was lost"
        output = capsys.readouterr().out
        if interrupter.reached_next:
            break
        assert interrupter.fired
        points += 1
        ended = ended_iterations(output)
        assert ended in ([], [1]), output
        record = json.loads((folder / "settings.json").read_text())
        # Every iteration the log called finished is on disk, whole, with its loss; none is claimed that is not.
        for n in ended:
            with Image.open(folder / f"iter_{n - 1}.png") as image:
                assert image.size == (64, 48)
        assert len(record["losses"]) >= len(ended)
        kept = sorted(int(p.stem.split("_")[1]) for p in folder.glob("iter_*.png") if "partial" not in p.stem)
        assert kept == list(range(len(record["losses"]))), (at, kept, record["losses"])
        if ended:
            assert "iterations 1-1 are finished" in output
    assert points >= 10  # the gap was walked through, call by call, to the next round's start


def test_an_interrupt_between_two_video_frames_keeps_the_first(tiny_images, tmp_path, capsys, watched_rounds):
    """A clip of two frames, one round each: the gap after frame 1's round (its picture, frame file,
    settings.json, its line) up to frame 2's round, every third point of it."""
    from pyimagesearch.nn.conv.video import transfer_video

    clip = tmp_path / "clip"
    clip.mkdir()
    photo = Image.open(tiny_images["input_path"])
    for t in range(2):
        photo.transform(photo.size, Image.Transform.AFFINE, (1, 0, 2 * t, 0, 1, 0)).save(clip / f"f{t + 1}.png")
    points = 0
    for at in range(1, 600, 3):
        interrupter = watched_rounds["interrupter"] = Interrupter(at)
        folder = tmp_path / str(at)
        capsys.readouterr()
        try:
            transfer_video({**tiny_images, **SHALLOW, "input_path": str(clip), "frames": True, "iterations": 1,
                            "frame_iterations": 1, "seed": 0, "output_path": str(folder)}, max_evals=2)
        except KeyboardInterrupt:
            pass
        if interrupter.reached_next:
            break
        assert interrupter.fired
        points += 1
        output = capsys.readouterr().out
        record = json.loads((folder / "settings.json").read_text())
        frames = sorted(p.name for p in folder.glob("frame_*.png"))
        if "[VIDEO] frame 1/2" in output:
            assert frames == ["frame_00001.png"]
        assert len(record["frame_losses"]) == len(frames), (at, record, frames)  # no frame without its loss
    assert points >= 5


def test_a_held_interrupt_arrives_when_the_step_ends():
    from pyimagesearch.nn.conv.atomic import interrupts_held

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
            steps.append("after the signal")  # the step goes on to its end
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_as_a_tile_pass_ends_keeps_its_tiles_and_its_iteration(tiny_images, tmp_path, capsys,
                                                                            watched_rounds):
    """A 64x48 picture in 4 tiles of 40 px, 2 passes: the gap after pass 1's last tile (its paste, working.npz,
    the pass's picture and its line), every fifth point of it."""
    points = 0
    for at in range(1, 600, 5):
        interrupter = watched_rounds["interrupter"] = Interrupter(at, after=4)
        folder = tmp_path / str(at)
        ns = NeuralStyle({**tiny_images, **SHALLOW, "output_path": str(folder), "iterations": 2, "seed": 0,
                          "tile_size": 40, "tile_overlap": 5, "tile_passes": 2, "init": "content"})
        capsys.readouterr()
        try:
            ns.transfer(maxEvals=2)
        except KeyboardInterrupt:
            pass
        if interrupter.reached_next:
            break
        assert interrupter.fired
        output = capsys.readouterr().out
        points += 1
        tiles_said = len(re.findall(r"\[TILE\] pass 1/2, tile \d/4", output))
        state = np.load(folder / "working.npz")
        meta = json.loads(str(state["meta"]))
        assert meta["pass"] == 1 or len(meta["done"]) >= tiles_said, (at, meta, tiles_said)
        for n in ended_iterations(output):
            with Image.open(folder / f"iter_{n - 1}.png") as image:
                assert image.size == (64, 48)
        if meta["pass"] == 1:  # the state is past pass 1 only once its picture is kept
            assert (folder / "iter_0.png").is_file()
    assert points >= 10

