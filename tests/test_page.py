"""The local web page: a live server (python style_transfer.py --web) driven by Gradio's own Python client,
and the parts it is made of (controls from the schema, regions painted in the page, runs on disk)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT

gradio_client = pytest.importorskip("gradio_client")
pytest.importorskip("gradio")

SIZE, ITERATIONS, EVALS = 64, 2, 3  # the page's starting values, from the flags the server is started with


class Server:
    """python style_transfer.py --web in its own process, its output folder in tmp; its output lines kept."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.output = folder / "runs"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
        self.proc = subprocess.Popen(
            [sys.executable, "style_transfer.py", "--web", "--port", str(self.port), "--output-path", str(self.output),
             "--max-size", str(SIZE), "--iterations", str(ITERATIONS), "--max-evals", str(EVALS)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 180
        while not any("[PAGE]" in line for line in self.lines):
            assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.2)
        self.url = re.search(r"http://\S+", next(line for line in self.lines if "[PAGE]" in line)).group(0)

    def client(self, downloads: Path):
        downloads.mkdir(exist_ok=True)
        return gradio_client.Client(self.url, verbose=False, download_files=str(downloads))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    page = Server(tmp_path_factory.mktemp("page"))
    yield page
    page.proc.terminate()
    page.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The samples as small uploads, and uploads that are wrong."""
    folder = tmp_path_factory.mktemp("uploads")
    made = {}
    for name in ("tubingen", "starry_night"):
        image = Image.open(ROOT / "inputs" / f"{name}.jpg").convert("RGB")
        image.thumbnail((96, 96))
        made[name] = str(folder / f"{name}.png")
        image.save(made[name])
    made["notes"] = str(folder / "notes.png")
    Path(made["notes"]).write_text("a shopping list, not a picture")
    made["speck"] = str(folder / "speck.png")
    Image.new("RGB", (8, 8), "red").save(made["speck"])
    return made


def paint_args(client, photo: str | None, paintings: list[str], **values) -> list:
    """The /paint endpoint's arguments: its defaults (the page's starting values), the uploads, and values by
    setting (found by their controls' labels)."""
    from gradio_client import handle_file

    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/paint"]["parameters"]
    args = [p["parameter_default"] for p in params]
    args[0] = handle_file(photo) if photo else None
    args[1] = [{"image": handle_file(p), "caption": None} for p in paintings]
    labels = {"max_size": "Size (long side, px)", "iterations": "Iterations"}
    for key, value in values.items():
        title = labels.get(key, f"{key} (--{key.replace('_', '-')})")
        args[next(i for i, p in enumerate(params) if p["label"] == title)] = value
    return args


def run_folder(status: str) -> Path:
    return Path(re.search(r"`([^`]+)`", status).group(1))


def wait_for(job, text: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in str(out[1]) for out in job.outputs()):
        assert not job.done() and time.monotonic() < deadline, (text, job.outputs()[-1:])
        time.sleep(0.2)


def test_an_upload_is_painted_and_the_command_line_makes_the_same_picture(server, pictures, tmp_path):
    client = server.client(tmp_path / "downloads")
    picture, status, files, command = client.predict(*paint_args(client, pictures["tubingen"],
                                                                 [pictures["starry_night"]]), api_name="/paint")
    assert "Finished" in status and "loss: total" in status
    folder = run_folder(status)
    assert folder.parent == server.output  # an ordinary run folder under the output path
    # The uploads landed in the run's folder and the run read them from there.
    record = json.loads(next(Path(f) for f in files if f.endswith("settings.json")).read_text())
    assert Path(record["settings"]["input_path"]).parent == folder / "inputs"
    assert len(record["losses"]) == ITERATIONS and record["losses"][-1] < record["losses"][0]
    final = np.asarray(Image.open(next(f for f in files if f.endswith(".png"))).convert("RGB"))
    assert final.shape == (48, 64, 3)
    assert np.array_equal(final, np.asarray(Image.open(folder / f"iter_{ITERATIONS - 1}.png").convert("RGB")))
    assert np.asarray(Image.open(picture).convert("RGB")).shape == final.shape

    # The command the page shows makes the same picture from a shell.
    assert "--seed" in command and f"--max-evals {EVALS}" in command
    shell = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert shell.returncode == 0, shell.stderr
    again = np.asarray(Image.open(f"{folder}-shell/iter_{ITERATIONS - 1}.png").convert("RGB"))
    assert np.abs(again.astype(int) - final).max() <= 2


def test_bad_uploads_get_one_message_and_the_page_keeps_serving(server, pictures, tmp_path):
    from gradio_client.exceptions import AppError

    client = server.client(tmp_path / "downloads")
    cases = [(pictures["notes"], [pictures["starry_night"]], "'notes.png' is not an image"),
             (pictures["tubingen"], [pictures["notes"]], "'notes.png' is not an image"),
             (pictures["speck"], [pictures["starry_night"]], "is 8x8 px"),
             (pictures["tubingen"], [], "no painting"),
             (None, [pictures["starry_night"]], "no photo")]
    for photo, paintings, message in cases:
        with pytest.raises(AppError, match=re.escape(message)):
            client.predict(*paint_args(client, photo, paintings), api_name="/paint")
    for value, message in (({"max_evals": 0}, "max_evals (--max-evals) must be a whole number >= 1"),
                           ({"content_weight": -1}, "setting 'content_weight' (--content-weight) must be a finite"),
                           ({"tile_size": 64, "tile_overlap": 40}, "setting 'tile_overlap' (--tile-overlap) must be")):
        with pytest.raises(AppError, match=re.escape(message)):
            client.predict(*paint_args(client, pictures["tubingen"], [pictures["starry_night"]], **value),
                           api_name="/paint")
    # A failed request leaves no run folder behind, and the next one is served.
    before = {p for p in server.output.iterdir() if not p.name.startswith(".")}
    assert all((p / "settings.json").is_file() for p in before if p.is_dir())
    assert server.proc.poll() is None


def test_stop_mid_run_keeps_the_best_picture_so_far(server, pictures, tmp_path):
    client = server.client(tmp_path / "downloads")
    job = client.submit(*paint_args(client, pictures["tubingen"], [pictures["starry_night"]], iterations=40,
                                    max_evals=10), api_name="/paint")
    wait_for(job, "Iteration 3 of 40")
    assert "ETA" in job.outputs()[-1][1]
    assert "Stopping" in client.predict(api_name="/stop")  # the same client: the same tab
    picture, status, files, _ = job.result(timeout=60)
    assert status.startswith("**Stopped** after") and "40 iterations" in status
    folder = run_folder(status)
    finished = json.loads((folder / "settings.json").read_text())["losses"]
    assert 2 <= len(finished) < 40
    kept = sorted(folder.glob("iter_*.png"))
    assert f"iter_{len(finished) - 1}.png" in {p.name for p in kept}
    assert np.asarray(Image.open(picture)).shape[:2] == (48, 64) and any(f.endswith(".png") for f in files)


def test_a_tab_that_goes_away_stops_its_run(server, pictures, tmp_path):
    client = server.client(tmp_path / "downloads")
    job = client.submit(*paint_args(client, pictures["tubingen"], [pictures["starry_night"]], iterations=40,
                                    max_evals=10), api_name="/paint")
    wait_for(job, "Iteration 2 of 40")
    folder = run_folder(job.outputs()[-1][1])
    job.cancel()  # what the page does when its tab closes: the request goes away mid-run
    deadline = time.monotonic() + 60
    while not list(folder.glob("iter_*_partial.png")):
        assert time.monotonic() < deadline, sorted(p.name for p in folder.iterdir())
        time.sleep(0.2)
    written = (folder / "settings.json").stat().st_mtime
    time.sleep(3)
    assert (folder / "settings.json").stat().st_mtime == written  # nothing paints on


def test_two_tabs_are_served_in_turn_and_the_second_sees_its_place(server, pictures, tmp_path):
    from gradio_client.utils import Status

    first, second = server.client(tmp_path / "a"), server.client(tmp_path / "b")
    jobs = [first.submit(*paint_args(first, pictures["tubingen"], [pictures["starry_night"]], iterations=4,
                                     max_evals=10), api_name="/paint")]
    while not jobs[0].outputs():  # until the first tab's run has the machine
        time.sleep(0.1)
    jobs.append(second.submit(*paint_args(second, pictures["tubingen"], [pictures["starry_night"]], iterations=4,
                                          max_evals=10), api_name="/paint"))
    ranks = set()
    while not jobs[1].done():
        status = jobs[1].status()
        if status.code == Status.IN_QUEUE and not jobs[0].done():
            ranks.add(status.rank)
        time.sleep(0.1)
    assert 0 in ranks  # it waited, first in line behind the run that was painting
    folders = [run_folder(job.result(timeout=120)[1]) for job in jobs]
    first_end = max(p.stat().st_mtime for p in folders[0].glob("iter_*.png"))
    second_start = min(p.stat().st_mtime for p in folders[1].glob("iter_*.png"))
    assert first_end <= second_start  # one run painted at a time


# -- the parts -------------------------------------------------------------------------------------------

def test_every_setting_has_a_control_and_a_new_row_gets_one(monkeypatch):
    from pyimagesearch.nn.conv import settings
    from pyimagesearch.web import controls

    main, rest = controls.page_controls()
    shown = {c.key for c in (*main, *rest)}
    paths = {row.key for row in settings.SCHEMA if row.image or row.check.__name__ == "_path"}
    assert shown | set(controls.PAGE_KEYS) | set(controls.LEFT_OUT) | paths == {*settings.ROWS, controls.MAX_EVALS}
    row = settings.Setting("glaze", 0.5, "a new setting", settings._number, type=float)
    monkeypatch.setattr(controls, "SCHEMA", (*settings.SCHEMA, row))
    monkeypatch.setattr(controls, "ROWS", {**settings.ROWS, "glaze": row})
    monkeypatch.setattr(controls, "DEFAULTS", {**settings.DEFAULTS, "glaze": 0.5})
    assert "glaze" in {c.key for c in controls.page_controls()[1]}


def test_controls_read_back_the_settings_they_show():
    from pyimagesearch.web import controls

    main, rest = controls.page_controls()
    every = (*main, *rest)
    s = {"style_weight": 250.0, "tv_weight": 0.0, "max_size": 384, "iterations": 7, "init": "content",
         "preserve_colors": "luminance", "style_layers": ["block1_conv1", "block3_conv1"], "scales": [0.5, 1.0],
         "seed": 42, "pooling": "avg", "content_layer": "block5_conv2", "tile_size": None}
    settings, max_evals = controls.read_controls(every, controls.control_values(every, s, 12))
    assert max_evals == 12
    assert {k: settings[k] for k in s} == s
    command = controls.command_line(settings, max_evals, "out")
    assert "--style-weight 250.0" in command and "--style-layers block1_conv1 block3_conv1" in command
    assert "--pooling avg" in command and "--max-evals 12" in command and "--tile-size" not in command


def test_regions_painted_in_the_page_become_one_mask_per_painting(tmp_path):
    from pyimagesearch.nn.conv.errors import SettingsError
    from pyimagesearch.web.uploads import REGION_COLORS, region_masks

    (tmp_path / "inputs").mkdir()
    assert region_masks(None, 2, str(tmp_path)) is None
    assert region_masks({"layers": [np.zeros((20, 30, 4), np.uint8)]}, 2, str(tmp_path)) is None
    layer = np.zeros((20, 30, 4), np.uint8)
    red, green = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in REGION_COLORS[:2])
    layer[:, :10, :3], layer[:, :10, 3] = red - 10, 255  # a brush's soft edge is near its colour, not on it
    later = np.zeros_like(layer)
    later[:, 5:20, :3], later[:, 5:20, 3] = green, 128  # over the first stroke where they overlap
    masks = region_masks({"layers": [layer, later]}, 2, str(tmp_path))
    first, second = (np.asarray(Image.open(m).convert("L")) > 127 for m in masks)
    assert first[:, :5].all() and not first[:, 5:].any()
    assert second[:, 5:20].all() and not second[:, 20:].any() and not second[:, :5].any()
    with pytest.raises(SettingsError, match="painting\\(s\\) 3 have no region"):
        region_masks({"layers": [layer, later]}, 3, str(tmp_path))


def test_the_runs_tab_finds_every_run_and_shares_stars_with_the_sweep_gallery(tmp_path, tiny_images):
    from pyimagesearch.gallery import write_gallery
    from pyimagesearch.nn.conv.images import write_rgb
    from pyimagesearch.web.runs import is_starred, runs_under, toggle_star, variations

    picture = np.zeros((48, 64, 3), np.uint8)
    settings = {**tiny_images, "content_weight": 1.0, "style_weight": 100.0, "tv_weight": 10.0, "iterations": 2,
                "content_layer": "block4_conv2", "max_size": None}
    for folder, image in (("", "iter_1.png"), ("page-run", "iter_0.png"), ("sweep/000-abcdef12", "final.png"),
                          ("sweep/000-abcdef12/render_128", "iter_1.png"), ("unfinished", None)):
        path = tmp_path / folder
        path.mkdir(parents=True, exist_ok=True)
        (path / "settings.json").write_text(json.dumps({"settings": settings, "max_evals": 5, "losses": [2.0, 1.0]}))
        if image:
            write_rgb(str(path / image), picture)
    runs = runs_under(str(tmp_path))
    assert {r.name for r in runs} == {".", "page-run", os.path.join("sweep", "000-abcdef12"),
                                      os.path.join("sweep", "000-abcdef12", "render_128")}
    experiment = next(r for r in runs if r.name.endswith("abcdef12"))
    assert toggle_star(experiment) and is_starred(experiment) and "★" in experiment.caption()
    index, _ = write_gallery(str(tmp_path / "sweep"), tiny_images["input_path"], tiny_images["style_path"])
    assert '"stars": ["000-abcdef12"]' in Path(index).read_text()
    assert not toggle_star(experiment) and not is_starred(experiment)

    # Variations: an experiment's join its sweep as the next generation; another run's go beside it.
    folder, drawn = variations(experiment, 3, seed=1)
    assert folder == str(tmp_path / "sweep") and [e.generation for e in drawn] == [2, 2, 2]
    assert all(e.parent == "000-abcdef12" and e.settings["input_path"] == settings["input_path"] for e in drawn)
    assert len({e.settings["style_weight"] for e in drawn}) == 3
    page_run = next(r for r in runs if r.name == "page-run")
    assert variations(page_run, 2, seed=1)[0] == str(tmp_path / "page-run") + "-around"


def test_the_estimate_says_the_time_here_and_suggests_tiles_when_the_picture_would_not_fit(monkeypatch, tmp_path):
    from pyimagesearch.web import pace

    photo = str(tmp_path / "photo.png")
    Image.new("RGB", (1024, 768)).save(photo)
    measured = pace.Pace()
    settings = {"max_size": 512, "iterations": 4, "scales": None, "tile_size": None}
    assert "still measuring" in pace.estimate(measured, photo, settings, 10)
    measured.record(256 * 192, 1.0)  # 1 s per evaluation at 256x192: 4 s at 512x384
    said = pace.estimate(measured, photo, settings, 10)
    assert "**512x384 px**, 4 iterations" in said and "about **2:40**" in said and "4.00 s per evaluation" in said
    # Coarse to fine: two iterations at a quarter of the pixels.
    assert "about **1:40**" in pace.estimate(measured, photo, {**settings, "scales": [0.5, 1.0]}, 10)
    monkeypatch.setattr(pace, "available_memory", lambda: int(1.3 * 2**30))
    said = pace.estimate(measured, photo, settings, 10)
    assert "would not fit" in said and "tile_size" in said
