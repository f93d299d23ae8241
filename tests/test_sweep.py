"""generate_examples.py: plans, resume, workers, Ray, gallery and bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyimagesearch.nn.conv import SettingsError
from pyimagesearch.sweep import RANGES, plan
from tests.conftest import ROOT


def sweep(tiny_images, out: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "generate_examples.py", "--input-path", tiny_images["input_path"],
                           "--style-path", tiny_images["style_path"], "--output-path", str(out),
                           "--experiments", "3", "--iterations", "1", "--max-evals", "2", *argv],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def experiment_folders(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir())


def finals(out: Path) -> dict[str, int]:
    return {name: (out / name / "final.png").stat().st_mtime_ns for name in experiment_folders(out)}


@pytest.fixture(scope="module")
def first_sweep(tiny_images, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "s"
    done = sweep(tiny_images, out)
    assert done.returncode == 0, done.stderr
    return out, done


def test_sweep_writes_experiments_gallery_and_contact_sheet(first_sweep, tiny_images):
    out, done = first_sweep
    names = experiment_folders(out)
    assert len(names) == 3 and all(re.fullmatch(r"\d{3}-[0-9a-f]{8}", n) for n in names)
    for name in names:
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == ["final.png", "iter_0.png", "log.txt", "settings.json"]
        assert Image.open(out / name / "final.png").size == Image.open(tiny_images["input_path"]).size
        record = json.loads((out / name / "settings.json").read_text())
        s = record["settings"]
        assert record["max_evals"] == 2 and isinstance(s["seed"], int)
        assert s["weights"] == os.environ.get("NEURALSTYLE_WEIGHTS", "imagenet")
        for key, (low, high) in RANGES.items():
            assert low <= s[key] <= high
    assert done.stdout.count("[SWEEP] ") == 5  # the plan, one line per experiment, the gallery
    assert "3/3" in done.stdout and "ETA" in done.stdout

    page = (out / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sorted(sources) == sorted(["content.png", "style.png", *[f"{n}/final.png" for n in names]])
    assert all((out / src).is_file() for src in sources)
    for key in ("contentWeight", "styleWeight", "tvWeight", "loss"):
        assert f"sortBy('{key}'" in page
    for name in names:  # each card carries its experiment's final loss, for sorting
        loss = json.loads((out / name / "settings.json").read_text())["losses"][-1]
        assert f'data-loss="{loss}"' in page
    sheet = Image.open(out / "contact_sheet.jpg")
    assert sheet.format == "JPEG" and sheet.size == (2 * 256, 2 * (48 + 48))  # 2x2 cells of 64x48 finals


def test_second_run_does_no_work(first_sweep, tiny_images):
    out, _ = first_sweep
    before = finals(out)
    done = sweep(tiny_images, out)
    assert done.returncode == 0, done.stderr
    assert "3 already done, 0 to run" in done.stdout
    assert finals(out) == before


def test_deleting_one_final_redoes_exactly_that_one(first_sweep, tiny_images):
    out, _ = first_sweep
    before = finals(out)
    victim = experiment_folders(out)[1]
    (out / victim / "final.png").unlink()
    done = sweep(tiny_images, out)
    assert done.returncode == 0, done.stderr
    assert "2 already done, 1 to run" in done.stdout and victim in done.stdout
    after = finals(out)
    assert {k: v for k, v in after.items() if k != victim} == {k: v for k, v in before.items() if k != victim}
    assert after[victim] != before[victim]


def test_workers_give_the_same_folders(first_sweep, tiny_images, tmp_path):
    out, _ = first_sweep
    done = sweep(tiny_images, tmp_path / "w2", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "2 workers" in done.stdout
    assert experiment_folders(tmp_path / "w2") == experiment_folders(out)


def test_ray_cluster(first_sweep, tiny_images, tmp_path, ray_cluster):
    (address, env) = ray_cluster
    done = sweep(tiny_images, tmp_path / "ray", "--ray-address", address, env=env)
    assert done.returncode == 0, done.stderr
    assert f"Ray cluster {address}" in done.stdout
    out, _ = first_sweep
    assert experiment_folders(tmp_path / "ray") == experiment_folders(out)
    assert all((tmp_path / "ray" / n / "final.png").is_file() for n in experiment_folders(out))


def test_without_ray_the_flag_says_how_to_get_it(monkeypatch, tmp_path):
    from pyimagesearch.sweep import run_sweep

    monkeypatch.setitem(sys.modules, "ray", None)  # what a machine without Ray sees
    experiments = plan({"weights": "w.h5"}, RANGES, ["block4_conv2"], 1, 0, 2, str(tmp_path / "sweep"))
    with pytest.raises(SettingsError, match=r"pip install '\.\[ray\]'"):
        run_sweep(experiments, ray_address="auto", report=lambda line: None)
    assert not (tmp_path / "sweep").exists()  # nothing ran


@pytest.mark.parametrize("argv, words", [
    (["--style-weight-range", "100", "10"], ["style_weight", "MIN <= MAX"]),
    (["--tv-weight-range", "0", "10"], ["tv_weight", "0 < MIN"]),
    (["--content-weight", "0"], ["content_weight", "0 < MIN"]),
    (["--experiments", "0"], ["--experiments"]),
    (["--workers", "0"], ["--workers"]),
    (["--input-path", "nothing.jpg"], ["nothing.jpg", "does not exist"]),
    (["--content-layers", "block4_conv2", "block7_conv1"], ["block7_conv1", "valid layers"]),
    (["--overwrite"], ["unrecognized arguments: --overwrite"]),
    (["--weights", "nowhere.h5"], ["nowhere.h5", "does not exist"]),
    (["--style-size", "20"], ["style image", "style_size", "at least 32 px"]),
])
def test_bad_input_stops_before_any_work(tiny_images, tmp_path, argv, words):
    done = sweep(tiny_images, tmp_path / "bad", *argv)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "bad").exists() or not experiment_folders(tmp_path / "bad")


def test_an_unexpected_error_fails_one_experiment_and_the_sweep_goes_on(tiny_images, tmp_path, monkeypatch):
    from pyimagesearch.nn.conv.neuralstyle import NeuralStyle
    from pyimagesearch.sweep import run_sweep

    experiments = plan({**tiny_images, "iterations": 1}, RANGES, ["block4_conv2"], 3, 0, 2, str(tmp_path))
    transfer = NeuralStyle.transfer

    def buggy(self, maxEvals=20, callback=None):  # a bug of ours, in the second experiment only
        if self.S["output_path"] == experiments[1].folder:
            raise ZeroDivisionError("division by zero")
        return transfer(self, maxEvals, callback)

    monkeypatch.setattr(NeuralStyle, "transfer", buggy)
    lines = []
    results = run_sweep(experiments, report=lines.append)
    assert [r["id"] for r in results] == [e.id for e in experiments]
    assert results[1] == {"id": experiments[1].id,
                          "error": "ZeroDivisionError: division by zero (traceback in its log.txt)"}
    assert "error" not in results[0] and "error" not in results[2]
    assert [e.done for e in experiments] == [True, False, True]
    log = (Path(experiments[1].folder) / "log.txt").read_text()
    assert "Traceback" in log and "ZeroDivisionError: division by zero" in log
    assert f"3/3 {experiments[2].describe()}: loss" in lines[-1]
    assert "FAILED: ZeroDivisionError" in lines[2]


def test_plan_is_stable_and_extends(tmp_path):
    base = {"input_path": "a.jpg", "style_path": "b.jpg", "weights": "w.h5"}
    ranges = {"content_weight": (1.0, 1.0), "style_weight": (10.0, 1000.0), "tv_weight": (1.0, 100.0)}
    out = str(tmp_path / "out")
    three = plan(base, ranges, ["block4_conv2", "block5_conv2"], 3, 7, 20, out)
    five = plan(base, ranges, ["block4_conv2", "block5_conv2"], 5, 7, 20, out)
    assert [e.id for e in five[:3]] == [e.id for e in three]
    assert len({e.id for e in five}) == 5
    assert all(e.settings["content_weight"] == 1.0 for e in five)  # a fixed value stays fixed
    assert {e.settings["content_layer"] for e in plan(base, ranges, ["block4_conv2", "block5_conv2"], 20, 7, 20,
                                                      out)} == {"block4_conv2", "block5_conv2"}
    other = plan(base, ranges, ["block4_conv2"], 3, 8, 20, out)
    assert {e.id for e in other}.isdisjoint(e.id for e in three)
    assert five[0].folder == os.path.join(out, five[0].id)
    assert not os.path.exists(out)  # planning writes nothing


def test_a_new_setting_at_its_default_keeps_the_experiment_names(monkeypatch, tmp_path):
    from pyimagesearch.nn.conv import settings
    from pyimagesearch.nn.conv.settings import DEFAULTS, Setting

    base = {"input_path": "a.jpg", "style_path": "b.jpg", "weights": "w.h5"}
    out = str(tmp_path / "out")
    before = [e.id for e in plan(base, RANGES, ["block4_conv2"], 3, 7, 20, out)]
    future = Setting("some_future_setting", 1.0, "what a later version might add", lambda key, value: value)
    monkeypatch.setattr(settings, "SCHEMA", (*settings.SCHEMA, future))
    monkeypatch.setitem(settings.ROWS, future.key, future)
    monkeypatch.setitem(DEFAULTS, future.key, future.default)
    after = plan(base, RANGES, ["block4_conv2"], 3, 7, 20, out)
    assert after[0].settings["some_future_setting"] == 1.0 and [e.id for e in after] == before
    assert plan({**base, "some_future_setting": 2.0}, RANGES, ["block4_conv2"], 3, 7, 20, out)[0].id != before[0]


def test_render_one_experiment_at_another_size(first_sweep, tiny_images):
    out, _ = first_sweep
    name = experiment_folders(out)[0]
    done = subprocess.run([sys.executable, "generate_examples.py", "--output-path", str(out), "--render", name[:6],
                           "--max-size", "48", "--iterations", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    render = out / name / "render_48"
    assert sorted(p.name for p in render.iterdir()) == ["iter_0.png", "iter_1.png", "settings.json"]
    assert Image.open(render / "iter_1.png").size == (48, 36)
    original = json.loads((out / name / "settings.json").read_text())
    again = json.loads((render / "settings.json").read_text())
    for key in ("content_weight", "style_weight", "tv_weight", "content_layer", "seed", "loss_normalization"):
        assert again["settings"][key] == original["settings"][key]
    assert again["max_evals"] == original["max_evals"] and again["settings"]["iterations"] == 2
    assert experiment_folders(out) == sorted(finals(out))  # the sweep itself is untouched
    assert "uses loss_normalization 'chapter'" in done.stdout  # a chapter-mode preview changes with size


def test_render_of_an_unknown_experiment_says_so(first_sweep):
    out, _ = first_sweep
    done = subprocess.run([sys.executable, "generate_examples.py", "--output-path", str(out), "--render", "zzz"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    message = f"error: --render zzz: in sweep folder '{out}' it matches no experiment"
    assert done.stderr.strip().splitlines() == [message]


# -- the morning after: --around, generations, stars -------------------------------------------------

def weights_of(folder: Path) -> dict[str, float]:
    settings = json.loads((folder / "settings.json").read_text())["settings"]
    return {key: settings[key] for key in ("content_weight", "style_weight", "tv_weight")}


def test_around_draws_near_the_favourite_and_resumes(first_sweep, tiny_images, tmp_path):
    from pyimagesearch.sweep import SPREAD, SPREAD_CUT

    out = tmp_path / "s"
    shutil.copytree(first_sweep[0], out)
    favourite = experiment_folders(out)[1]
    done = sweep(tiny_images, out, "--around", favourite[:3], "--experiments", "4")
    assert done.returncode == 0, done.stderr
    assert f"around {favourite} (spread 0.25 decades): generation 2" in done.stdout
    new = [n for n in experiment_folders(out) if n not in experiment_folders(first_sweep[0])]
    assert [n[:3] for n in new] == ["003", "004", "005", "006"]  # numbered after the sweep's own
    bound = 10 ** (SPREAD_CUT * SPREAD)  # each weight within a factor 10^(2 x 0.25) = 3.16 of the favourite's
    base = weights_of(out / favourite)
    parent = json.loads((out / favourite / "settings.json").read_text())["settings"]
    for name in new:
        assert (out / name / "final.png").is_file()
        assert json.loads((out / name / "experiment.json").read_text()) == {"generation": 2, "parent": favourite}
        settings = json.loads((out / name / "settings.json").read_text())["settings"]
        for key, value in weights_of(out / name).items():
            assert base[key] / bound <= value <= base[key] * bound, (key, value, base[key])
            assert value != base[key]
        kept = ("content_layer", "style_layers", "max_size", "init", "scales", "loss_normalization", "iterations")
        assert {k: settings[k] for k in kept} == {k: parent[k] for k in kept}
        assert settings["seed"] != parent["seed"]
    page = (out / "index.html").read_text()
    assert page.count('data-generation="2"') == 4 and page.count(f"around <a href=\"#{favourite}\">") == 4

    before = finals(out)
    again = sweep(tiny_images, out, "--around", favourite[:3], "--experiments", "4")
    assert again.returncode == 0, again.stderr
    assert "4 experiments: 4 already done, 0 to run" in again.stdout and finals(out) == before
    longer = sweep(tiny_images, out, "--around", favourite[:3], "--experiments", "5")  # extends, keeps the 4
    assert "5 experiments: 4 already done, 1 to run" in longer.stdout
    assert experiment_folders(out)[-1][:3] == "007"


def test_plan_around_is_a_bounded_log_normal_around_each_favourite(tmp_path):
    from pyimagesearch.sweep import SPREAD_CUT, Favourite, plan_around

    favourites = [Favourite(f"00{i}-abcdef0{i}", {"settings": {"content_weight": 2.0 * (i + 1), "style_weight": 300.0,
                                                              "tv_weight": 5.0, "content_layer": f"block{i + 4}_conv2"},
                                                 "max_evals": 7}, 1) for i in range(2)]
    many = plan_around(favourites, 400, 3, 0.3, str(tmp_path), {})
    assert plan_around(favourites, 10, 3, 0.3, str(tmp_path), {}) == many[:10]  # the same seed, the same draws
    assert plan_around(favourites, 10, 4, 0.3, str(tmp_path), {}) != many[:10]
    for i, favourite in enumerate(favourites):
        mine = many[i::2]
        assert {e.parent for e in mine} == {favourite.id} and {e.generation for e in mine} == {2}
        assert {e.settings["content_layer"] for e in mine} == {favourite.record["settings"]["content_layer"]}
        assert {e.max_evals for e in mine} == {7}
        z = np.log10([e.settings["content_weight"] / favourite.record["settings"]["content_weight"] for e in mine])
        assert np.abs(z).max() <= SPREAD_CUT * 0.3 * 1.001  # 4 significant digits round a little
        assert 0.22 < z.std() < 0.31 and abs(z.mean()) < 0.05  # sd 0.3 decades, cut at 2 sd: sd 0.264
    fixed = plan_around(favourites, 4, 3, 0.3, str(tmp_path), {"tv_weight": 9.0})
    assert {e.settings["tv_weight"] for e in fixed} == {9.0}  # a weight given as a flag stays fixed


@pytest.mark.parametrize("make, words", [
    (lambda out: None, ["--around 999", "matches no experiment"]),
    (lambda out: (out / "999-deadbeef").mkdir(), ["--around 999", "999-deadbeef", "not finished"]),
])
def test_around_a_missing_or_unfinished_experiment_is_one_clear_error(first_sweep, tiny_images, tmp_path, make, words):
    out = tmp_path / "s"
    shutil.copytree(first_sweep[0], out)
    make(out)
    done = sweep(tiny_images, out, "--around", "999")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_gallery_writes_the_commands_for_the_starred_cards(first_sweep, tmp_path):
    """The page as a browser shows it, opened from disk, with two cards starred through its address."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("CI installs Chromium (.ci/run); it is missing")
        pytest.skip("no Chromium here (apt install chromium)")
    out, _ = first_sweep
    names = experiment_folders(out)
    url = (out / "index.html").as_uri() + f"#star={names[0]},{names[2]}"
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    dom = done.stdout
    assert f'<span id="starred">{names[0]}, {names[2]}</span>' in dom, done.stderr[-2000:]
    command = f"python generate_examples.py --output-path {out}"
    assert f"{command} --around {names[0]} {names[2]} --experiments 8" in dom
    assert f"{command} --render {names[0]} --max-size 1024\n{command} --render {names[2]} --max-size 1024" in dom
    assert dom.count('class="card starred"') == 2 and dom.count("★</button>") == 2
