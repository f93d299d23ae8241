"""The page's controls, derived from the settings schema (settings.SCHEMA): one control per row.

A few rows get a slider or radio buttons up front (MAIN); every other row gets a control in the
"All settings" section chosen from what the row says of itself (choices: a dropdown, True/False: a
checkbox, a list: a text box of values, a number: a number box), so a new row appears on the page
without touching it. Rows that name files on the server are left out on purpose: the page reads no
path typed into it (the photo, paintings and regions come as uploads, see uploads.py).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyimagesearch.nn.conv.errors import SettingsError
from pyimagesearch.nn.conv.settings import DEFAULTS, INITS, NEUTRAL_KEYS, ROWS, SCHEMA, Setting, label

# Set by the page itself: uploads and the run's folder (uploads.py), the regions painted in the page.
PAGE_KEYS = ("input_path", "style_path", "output_path", "content_masks", "style_masks", "mask_colors")
# Not offered: a page run always gets a new folder and paints one picture (videos: the command line),
# and its log goes to the terminal that started the page; the backend is the page process's own (Keras picks it
# once: `python style_transfer.py --web --backend torch`).
LEFT_OUT = ("overwrite", "quiet", "frames", "backend")
MAX_EVALS = "max_evals"  # not a setting but transfer()'s argument; the page offers it among the settings
PAGE_DEFAULTS = {"max_size": 512, "iterations": 10, MAX_EVALS: 20}  # a first run that ends in minutes


@dataclass(frozen=True)
class Control:
    """How one setting is shown: build() makes its Gradio component from a starting value; to_setting()
    reads the component's value back as the setting's value, to_control() the other way round."""

    key: str
    build: Callable[[Any], Any]
    to_setting: Callable[[Any], Any] = lambda v: v
    to_control: Callable[[Any], Any] = lambda v: v


def _log_slider(key: str, title: str, low: float, high: float, info: str) -> Control:
    """A weight moved on a log scale: each step of 1 is ten times more."""
    import gradio as gr

    def build(value: Any) -> Any:
        return gr.Slider(low, high, value=_log(value, low, high), step=0.1, label=title,
                         info=f"{info} ({key} = 10^x; far left: 0)")

    # The far left is 0 (the term off), so a run's weight of 0 loads back as 0.
    return Control(key, build, lambda x: 0.0 if float(x) <= low else float(f"{10 ** float(x):.4g}"),
                   lambda v: _log(v, low, high))


def _log(value: Any, low: float, high: float) -> float:
    # Not rounded to the slider's step: a run's settings loaded back keep their exact weights.
    return min(max(math.log10(max(float(value), 1e-12)), low), high)


def _within(value: Any, low: int, high: int) -> int:
    return int(min(max(value, low), high))


def _kind(init: Any) -> str:
    return init if isinstance(init, str) and init in INITS else "noise"


def _main_controls() -> tuple[Control, ...]:
    import gradio as gr

    rows = ROWS
    return (
        _log_slider("style_weight", "Style strength", -1.0, 6.0, "more of the painting, less of the photo"),
        _log_slider("tv_weight", "Smoothness", -3.0, 4.0, "fewer specks and fine strokes"),
        # A run loaded back whose size or iterations lie past a slider's end takes its end (the page refuses
        # values out of a slider's range); a full-size run (max_size None) comes back at 512 px.
        Control("max_size", lambda v: gr.Slider(64, 2048, value=_within(v or 512, 64, 2048), step=32,
                                                label="Size (long side, px)",
                                                info="larger takes longer (time grows with the pixels)"),
                lambda v: int(v), lambda v: _within(v or 512, 64, 2048)),
        Control("iterations", lambda v: gr.Slider(1, 100, value=_within(v, 1, 100), step=1, label="Iterations",
                                                  info="rounds of the optimiser; the picture updates after each"),
                lambda v: int(v), lambda v: _within(v, 1, 100)),
        # An image file as start image is a path on the server: the page offers the three kinds only.
        Control("init", lambda v: gr.Radio(list(INITS), value=_kind(v), label="Start image",
                                           info="noise (the chapter's), the photo, or the painting"),
                to_control=_kind),
        Control("preserve_colors", lambda v: gr.Radio(list(rows["preserve_colors"].choices), value=v,
                                                      label="Colours", info=rows["preserve_colors"].help)),
    )


def _words(row: Setting, text: Any) -> Any:
    """A list setting typed as words ('block1_conv1 block2_conv1', '0.25, 0.5, 1'); '' is None."""
    words = str(text or "").replace(",", " ").split()
    if not words:
        return None if row.optional else row.default
    try:
        values = [row.type(w) for w in words]
    except ValueError:
        raise SettingsError(f"{label(row.key)}: {text!r} is not a list of {row.many} values") from None
    return values[0] if len(values) == 1 and isinstance(row.default, str) else values


def _number(row: Setting, value: Any) -> Any:
    if value is None or value == "":
        return None if row.optional else row.default
    return int(value) if row.type is int and float(value).is_integer() else value


def control_for(row: Setting) -> Control:
    """The "All settings" control of a schema row, chosen from the row's own description."""
    import gradio as gr

    title, info = f"{row.key} (--{row.key.replace('_', '-')})", row.help
    if row.choices:
        return Control(row.key, lambda v: gr.Dropdown(list(row.choices), value=v, label=title, info=info))
    if isinstance(row.default, bool):
        return Control(row.key, lambda v: gr.Checkbox(value=bool(v), label=title, info=info))
    if row.many:
        return Control(row.key, lambda v: gr.Textbox(value=_shown(v), label=title, info=info,
                                                     placeholder="default" if row.optional else None),
                       lambda v: _words(row, v), _shown)
    if row.type in (int, float):
        return Control(row.key, lambda v: gr.Number(value=v, label=title, info=info,
                                                    precision=0 if row.type is int else None),
                       lambda v: _number(row, v))
    return Control(row.key, lambda v: gr.Textbox(value=_shown(v), label=title, info=info),
                   lambda v: row.default if v in (None, "") else v, _shown)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _max_evals_control() -> Control:
    import gradio as gr

    return Control(MAX_EVALS, lambda v: gr.Number(value=v, precision=0, label="max_evals (--max-evals)",
                                                  info="loss evaluations per iteration (L-BFGS: at most)"),
                   lambda v: int(v) if v not in (None, "") else PAGE_DEFAULTS[MAX_EVALS])


def page_controls() -> tuple[tuple[Control, ...], tuple[Control, ...]]:
    """(the controls up front, those of "All settings"): every schema row but the page's own and those left out,
    and max_evals."""
    main = _main_controls()
    shown = {c.key for c in main} | set(PAGE_KEYS) | set(LEFT_OUT)
    rest = tuple(control_for(row) for row in SCHEMA if row.key not in shown and not row.image
                 and row.check.__name__ != "_path")
    return main, (*rest, _max_evals_control())


def starting_values(settings: Mapping[str, Any], max_evals: int | None = None) -> dict[str, Any]:
    """The values the controls open with: settings (the script's SETTINGS and flags) over the page's defaults."""
    values = {**DEFAULTS, **{k: v for k, v in settings.items() if k in ROWS}}
    for key in ("max_size", "iterations"):  # the script's full-size, 50-iteration run is an evening here
        if settings.get(key) == DEFAULTS[key] or key not in settings:
            values[key] = PAGE_DEFAULTS[key]
    values[MAX_EVALS] = max_evals or PAGE_DEFAULTS[MAX_EVALS]
    if hasattr(values["net"], "__name__"):  # style_transfer.py's SETTINGS hold the constructor
        values["net"] = values["net"].__name__
    return values


def read_controls(controls: Sequence[Control], values: Sequence[Any]) -> tuple[dict[str, Any], int]:
    """(settings, max_evals) from the controls' values, in the order of controls."""
    settings = {c.key: c.to_setting(v) for c, v in zip(controls, values, strict=True)}
    max_evals = settings.pop(MAX_EVALS)
    if not isinstance(max_evals, int) or max_evals < 1:
        raise SettingsError(f"max_evals (--max-evals) must be a whole number >= 1, got {max_evals!r}")
    return settings, max_evals


def control_values(controls: Sequence[Control], settings: Mapping[str, Any], max_evals: int) -> list[Any]:
    """The controls' values that show settings (a run's settings.json, for "load these settings")."""
    values = {**DEFAULTS, **settings, MAX_EVALS: max_evals}
    return [c.to_control(values[c.key]) for c in controls]


def command_line(settings: Mapping[str, Any], max_evals: int, output_path: str) -> str:
    """The style_transfer.py command that makes the same picture from a shell (into output_path)."""
    words = ["python", "style_transfer.py"]
    for row in SCHEMA:
        value = settings.get(row.key, row.default)
        if row.key == "output_path":
            value = output_path
        elif row.key in NEUTRAL_KEYS or value == row.default or value is None:
            continue
        flag = f"--{row.key.replace('_', '-')}"
        if isinstance(value, bool):
            words.append(flag if value else f"--no-{row.key.replace('_', '-')}")
        else:
            words += [flag, *map(str, value if isinstance(value, (list, tuple)) else [value])]
    words += ["--max-evals", str(max_evals)]
    return shlex.join(words)
