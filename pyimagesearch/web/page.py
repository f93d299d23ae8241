"""The page: its layout (Make, Runs), its events, and the server on 127.0.0.1.

One run paints at a time on the machine: the events that paint share one Gradio queue slot
("paint"), so a second tab's Start waits and the page shows its place in the queue; the events that
only read (the estimate, Stop, the gallery) never wait behind a run. A run belongs to the browser
tab (Gradio's session) that started it: that tab's Stop ends it, and so does closing the tab.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from pyimagesearch.nn.conv.errors import NeuralStyleError
from pyimagesearch.nn.conv.images import load_rgb
from pyimagesearch.nn.conv.run_plan import plan_run

from .controls import command_line, control_values, page_controls, read_controls, starting_values
from .pace import Pace, estimate
from .page_run import PageRun
from .runs import RunOnDisk, run_in, runs_under, toggle_star, variations
from .uploads import REGION_COLORS, bring_uploads, new_run_folder, region_masks

SAMPLES = Path(__file__).resolve().parents[2] / "inputs"  # tubingen.jpg and starry_night.jpg, beside the scripts
MAX_UPLOAD = "50mb"  # per file: a 40-megapixel JPEG is well inside; the picture is shrunk to the size slider
POLL = 0.5  # seconds between the page's looks at a running run
WAITING, STOP_WAITING = "waiting", "stop"  # a tab's Start in the queue, and one stopped before it began


def _checked_upload(component: gr.Image) -> gr.Image:
    """The image component, its upload's decoding failure told in one line naming the file (Gradio's own
    message is a generic error, its traceback only in the terminal)."""
    decode = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            name = getattr(payload, "orig_name", None) or os.path.basename(str(getattr(payload, "path", "")))
            raise gr.Error(f"'{name}' is not an image this page can read ({type(e).__name__})",
                           print_exception=False) from None

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


class Page:
    """The page's state: its output folder, the machine's one painting slot, each tab's run."""

    def __init__(self, root: str, settings: Mapping[str, Any] | None = None, max_evals: int | None = None,
                 calibrate: bool = True) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.painting = threading.Lock()
        self.pace = Pace()
        self.runs: dict[str, PageRun] = {}  # session -> its latest run
        self.queued: dict[str, str] = {}  # session -> WAITING or STOP_WAITING, while its Start is in the queue
        self.varying: dict[str, threading.Event] = {}  # session -> set to stop its variations after the current one
        self.main, self.rest = page_controls()
        self.controls = (*self.main, *self.rest)
        self.values = starting_values(settings or {}, max_evals)
        self.calibration = threading.Thread(target=self._calibrate, name="neuralstyle-pace", daemon=True)
        if calibrate:
            self.calibration.start()

    def _calibrate(self) -> None:
        try:
            self.pace.calibrate(self.painting)
        except Exception as e:  # no weights, no memory: the first run says so properly; the estimate waits for it
            print(f"[PAGE] could not measure this machine's pace ({type(e).__name__}: {e})")

    # -- Make ----------------------------------------------------------------------------------

    def _settings(self, photo: str | None, paintings: Sequence[Any] | None, regions: Mapping[str, Any] | None,
                  values: Sequence[Any]) -> tuple[dict[str, Any], int]:
        """A new run folder with the uploads in it, and the settings and max_evals of its run, checked as any
        run's are (before the network loads); NeuralStyleError naming what is wrong, the folder then removed."""
        paths = [p[0] if isinstance(p, (list, tuple)) else p for p in paintings or []]
        folder = new_run_folder(self.root, photo or "photo")
        try:
            settings, max_evals = read_controls(self.controls, values)
            photo_path, painting_paths = bring_uploads(folder, photo, paths)
            masks = region_masks(regions, len(painting_paths), folder)
            settings.update(input_path=photo_path, style_path=painting_paths[0] if len(painting_paths) == 1
                            else painting_paths, output_path=folder, content_masks=masks)
            if settings.get("seed") is None:  # drawn here, so the command line shown can name it
                settings["seed"] = int(np.random.default_rng().integers(2**31))
            plan_run(settings)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return settings, max_evals

    def queue_start(self, request: gr.Request) -> None:
        self.queued[request.session_hash] = WAITING

    def paint(self, request: gr.Request, photo: str | None, paintings: Sequence[Any] | None,
              regions: Mapping[str, Any] | None, *values: Any) -> Iterator[tuple[Any, ...]]:
        """Start: paint in the background and show each iteration's picture, the loss split and the ETA; at the
        end the picture and its settings.json to download, and the command line for the same picture."""
        session = request.session_hash
        if self.queued.pop(session, None) == STOP_WAITING:
            yield gr.skip(), "Stopped before it started.", None, ""
            return
        try:
            settings, max_evals = self._settings(photo, paintings, regions, values)
        except NeuralStyleError as e:
            raise gr.Error(str(e), print_exception=False) from None
        command = command_line(settings, max_evals, f"{settings['output_path']}-shell")
        run = self.runs[session] = PageRun(settings, max_evals, self.painting, self.pace).start()
        shown = None
        try:
            while not run.wait(POLL):
                picture = run.picture
                yield (gr.skip() if picture is shown else picture), run.status(), None, command
                shown = picture
            if run.outcome == "failed":
                raise gr.Error(run.error or "the run failed", print_exception=False)
            yield run.picture, run.status(), run.files(), command
        finally:
            run.stop()  # the page went away mid-run (the generator closed): no run paints on for nobody

    def stop(self, request: gr.Request) -> str:
        """Stop: the tab's run ends at its next evaluation, keeping the best picture so far; its variations end
        after the one being painted; a Start of the tab still waiting in the queue will not start."""
        session, said = request.session_hash, []
        if session in self.varying:
            self.varying[session].set()
            said.append("Stopping after the variation being painted.")
        run = self.runs.get(session)
        if run is not None and not run.done:
            run.stop()
            said.append("Stopping at the next evaluation; the best picture so far is kept.")
        if session in self.queued:
            self.queued[session] = STOP_WAITING
            said.append("The run waiting in the queue will not start.")
        return " ".join(said) or "Nothing is painting in this tab."

    def closed(self, request: gr.Request) -> None:
        """The tab closed: its run, running or waiting, stops, and the page forgets it."""
        self.stop(request)
        self.runs.pop(request.session_hash, None)

    def estimate(self, photo: str | None, *values: Any) -> str:
        if not photo:
            return "Drop a photo (or press *Use the samples*) to see how long the run will take here."
        try:
            settings, max_evals = read_controls(self.controls, values)
            return estimate(self.pace, photo, {**self.values, **settings}, max_evals)
        except NeuralStyleError as e:
            return f"**{e}**"
        except Exception as e:  # e.g. a photo that is not an image: Start will say so
            return f"Cannot read the photo yet ({type(e).__name__})."

    def samples(self) -> tuple[str | None, list[str]]:
        photo, painting = SAMPLES / "tubingen.jpg", SAMPLES / "starry_night.jpg"
        if not (photo.is_file() and painting.is_file()):
            return None, []
        return str(photo), [str(painting)]

    # -- Runs ----------------------------------------------------------------------------------

    def gallery(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The runs on disk for the gallery, and their folders in its order (the tab's own list: tabs refresh
        their galleries at different times)."""
        runs = runs_under(self.root)
        return [(run.picture, run.caption()) for run in runs], [run.folder for run in runs]

    def _run(self, folder: str | None) -> RunOnDisk:
        inside = folder and os.path.commonpath([os.path.abspath(folder), self.root]) == self.root
        run = run_in(folder, self.root) if inside else None
        if run is None:
            raise gr.Error("Choose a run in the gallery first.", print_exception=False)
        return run

    def select(self, folders: list[str], event: gr.SelectData) -> tuple[str, dict[str, Any], str]:
        run = self._run(folders[event.index] if 0 <= event.index < len(folders) else None)
        return run.folder, {k: run.record.get(k) for k in ("settings", "max_evals", "losses")}, run.caption()

    def load(self, folder: str | None) -> list[Any]:
        """The chosen run's settings back into the Make tab: its photo, paintings and every control."""
        run = self._run(folder)
        s = run.settings
        def readable(source: Any) -> np.ndarray | None:  # noqa: E306
            try:
                return np.clip(load_rgb(source), 0, 255).astype(np.uint8)
            except Exception:
                return None
        paintings = [p for p in (readable(p) for p in (s["style_path"] if isinstance(s["style_path"], list)
                                                       else [s["style_path"]])) if p is not None]
        values = control_values(self.controls, s, run.record.get("max_evals") or 20)
        return [readable(s["input_path"]), paintings, *values, gr.Tabs(selected="make")]

    def star(self, folder: str | None) -> tuple[list[tuple[str, str]], list[str], str]:
        run = self._run(folder)
        on = toggle_star(run)
        return (*self.gallery(), f"{'Starred' if on else 'Unstarred'} {run.name}.")

    def vary(self, folder: str | None, count: float, request: gr.Request) -> Iterator[tuple[Any, str]]:
        """Vary around this: a few new runs with the weights drawn near this one's (the sweep's --around),
        painted one after another and shown side by side as they finish."""
        from pyimagesearch.gallery import write_gallery
        from pyimagesearch.sweep import run_experiment

        run = self._run(folder)
        session = request.session_hash
        if self.queued.pop(session, None) == STOP_WAITING:
            yield gr.skip(), "Stopped before it started."
            return
        folder, experiments = variations(run, int(count), int(np.random.default_rng().integers(2**31)))
        shown: list[tuple[str, str]] = []
        halt = self.varying[session] = threading.Event()
        try:
            for n, experiment in enumerate(experiments):
                if halt.is_set():
                    break
                yield shown, f"Painting variation {n + 1} of {len(experiments)} into `{experiment.folder}` ..."
                with self.painting:
                    result = run_experiment(experiment)
                if "error" in result:
                    raise gr.Error(f"variation {experiment.id}: {result['error']}", print_exception=False)
                s = experiment.settings
                shown.append((os.path.join(experiment.folder, "final.png"),
                              f"{experiment.id}: style {s['style_weight']:.3g}, tv {s['tv_weight']:.3g}, content "
                              f"{s['content_weight']:.3g}"))
        finally:
            self.varying.pop(session, None)
            if shown:  # the sweep gallery of what is finished, after a stop too
                write_gallery(folder, run.settings["input_path"], run.settings["style_path"])
        yield shown, f"{len(shown)} variations in `{folder}` (its index.html is the sweep gallery)."

    # -- layout --------------------------------------------------------------------------------

    def blocks(self) -> Any:
        v = self.values
        with gr.Blocks(title="NeuralStyle", delete_cache=(3600, 86400)) as demo:
            gr.Markdown("# NeuralStyle\nA photo repainted in the style of a painting (Gatys et al.). Runs here, on "
                        f"this machine; every run is a folder under `{self.root}`.")
            with gr.Tabs() as tabs:
                with gr.Tab("Make", id="make"):
                    with gr.Row():
                        with gr.Column(scale=1):
                            photo = _checked_upload(gr.Image(label="Photo", type="filepath", height=260,
                                                             sources=["upload", "clipboard"]))
                            paintings = gr.Gallery(label="Paintings (one or more)", type="filepath",
                                                   interactive=True, columns=3, height=180, file_types=["image"])
                            use_samples = gr.Button("Use the samples (Tübingen, The Starry Night)", size="sm")
                            main = [c.build(v[c.key]) for c in self.main]
                            with gr.Accordion("Regions: paint where each painting's style goes", open=False):
                                gr.Markdown("Brush colour 1 is painting 1, colour 2 painting 2, ... Unpainted parts "
                                            "get no style. Leave it empty to use every painting everywhere.")
                                regions = gr.ImageEditor(type="numpy", label="Regions", height=320,
                                                         sources=[], transforms=[], layers=False,
                                                         brush=gr.Brush(colors=list(REGION_COLORS),
                                                                        color_mode="fixed", default_size=24))
                            with gr.Accordion("All settings", open=False):
                                rest = [c.build(v[c.key]) for c in self.rest]
                        with gr.Column(scale=1):
                            plan = gr.Markdown(elem_id="estimate")
                            with gr.Row():
                                start = gr.Button("Start", variant="primary")
                                stop = gr.Button("Stop", variant="stop")
                            picture = gr.Image(label="Picture", type="numpy", interactive=False, format="png",
                                               height=420)
                            status = gr.Markdown(elem_id="status")
                            downloads = gr.File(label="Download: the picture and its settings.json",
                                                file_count="multiple", interactive=False)
                            command = gr.Code(label="The same picture from a shell", language="shell",
                                              interactive=False, wrap_lines=True)
                with gr.Tab("Runs", id="runs"):
                    gr.Markdown(f"Every run under `{self.root}`: this page's, the command line's and sweeps'.")
                    with gr.Row():
                        refresh = gr.Button("Refresh", size="sm")
                        count = gr.Slider(2, 8, value=3, step=1, label="Variations")
                    shelf = gr.Gallery(label="Runs", columns=5, height=420, allow_preview=False,
                                       elem_id="runs-shelf")
                    chosen = gr.State(None)  # the chosen run's folder
                    folders = gr.State([])  # the shelf's runs' folders, in its order
                    caption = gr.Markdown()
                    with gr.Row():
                        load = gr.Button("Load these settings")
                        star = gr.Button("☆ Star / unstar")
                        vary = gr.Button("Vary around this", variant="primary")
                    side_by_side = gr.Gallery(label="Variations", columns=4, height=320)
                    details = gr.JSON(label="settings.json")

            inputs = [photo, paintings, regions, *main, *rest]
            use_samples.click(self.samples, None, [photo, paintings], queue=False)
            photo.change(lambda p: p, photo, regions, queue=False)  # the regions are painted over the photo
            for control in [photo, *main, *rest]:
                control.change(self.estimate, [photo, *main, *rest], plan, queue=False, show_progress="hidden")
            timer = gr.Timer(2.0)  # while this machine's pace is being measured
            timer.tick(lambda *a: (self.estimate(*a), gr.Timer(active=self.calibration.is_alive())),
                       [photo, *main, *rest], [plan, timer], queue=False, show_progress="hidden")
            start.click(self.queue_start, None, None, queue=False).then(
                self.paint, inputs, [picture, status, downloads, command], concurrency_id="paint",
                concurrency_limit=1, api_name="paint").then(self.gallery, None, [shelf, folders], queue=False)
            stop.click(self.stop, None, status, queue=False, api_name="stop")
            demo.unload(self.closed)

            refresh.click(self.gallery, None, [shelf, folders], queue=False)
            demo.load(self.gallery, None, [shelf, folders], queue=False)
            shelf.select(self.select, folders, [chosen, details, caption], queue=False)
            load.click(self.load, chosen, [photo, paintings, *main, *rest, tabs], queue=False)
            star.click(self.star, chosen, [shelf, folders, caption], queue=False)
            vary.click(self.queue_start, None, None, queue=False).then(
                self.vary, [chosen, count], [side_by_side, caption], concurrency_id="paint", concurrency_limit=1
            ).then(self.gallery, None, [shelf, folders], queue=False)
        return demo

    def serve(self, host: str = "127.0.0.1", port: int | None = None, block: bool = True,
              open_browser: bool = False) -> Any:
        """Serve the page on host:port (None: Gradio's 7860 or the next free one); print its address."""
        demo = self.blocks()
        demo.queue(default_concurrency_limit=None)
        allowed = [self.root] + [str(SAMPLES)] * SAMPLES.is_dir()
        demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, inbrowser=open_browser,
                    max_file_size=MAX_UPLOAD, allowed_paths=allowed, quiet=True, footer_links=["api"])
        print(f"[PAGE] NeuralStyle page at {demo.local_url} (runs go to '{self.root}')", flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"[PAGE] listening on {host}: other machines on the network can open the page and paint",
                  flush=True)
        if block:
            demo.block_thread()
        return demo
