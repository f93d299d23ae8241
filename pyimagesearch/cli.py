"""Command-line plumbing shared by the scripts: SETTINGS keys as flags, and clean exits."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from pyimagesearch.nn.conv.colors import PRESERVE_COLORS
from pyimagesearch.nn.conv.errors import NeuralStyleError
from pyimagesearch.nn.conv.outputs import read_record
from pyimagesearch.nn.conv.settings import DEFAULTS, HELP, NETS, NORMALIZATIONS, OPTIMIZERS, POOLINGS

_TYPES: dict[str, Any] = {"content_weight": float, "style_weight": float, "tv_weight": float,
                          "learning_rate": float, "style_scale": float,
                          "iterations": int, "max_size": int, "style_size": int, "save_every": int, "seed": int}
_CHOICES: dict[str, tuple[str, ...]] = {"loss_normalization": NORMALIZATIONS, "pooling": POOLINGS,
                                        "optimizer": OPTIMIZERS, "preserve_colors": PRESERVE_COLORS}
# Keys that take several values: flag -> (metavar, type).
_LISTS: dict[str, tuple[str, Any]] = {"style_path": ("PATH", str), "content_layer": ("LAYER", str),
                                      "style_layers": ("LAYER", str), "style_blend_weights": ("W", float),
                                      "content_layer_weights": ("W", float), "style_layer_weights": ("W", float),
                                      "scales": ("S", float)}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each flag; the script's docstring kept as written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other error of ours, instead of argparse's usage block.
        self.exit(2, f"error: {message} (see --help)\n")


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return getattr(value, "__name__", None) or str(value)


def settings_parser(settings: Mapping[str, Any], description: str | None = None,
                    skip: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A parser with one flag per SETTINGS key (`_` becomes `-`) but those in skip; each overrides its key."""
    parser = _Parser(description=description, formatter_class=_Formatter)
    for key in DEFAULTS:
        if key in skip:
            continue
        kwargs: dict[str, Any] = {"dest": key, "default": argparse.SUPPRESS,
                                  "help": f"{HELP[key]} (SETTINGS: {_shown(settings.get(key, DEFAULTS[key]))})"}
        if key in _LISTS:
            kwargs.update(nargs="+", metavar=_LISTS[key][0], type=_LISTS[key][1])
        elif key in ("overwrite", "quiet"):
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif key == "net":
            kwargs.update(choices=NETS, type=str.upper)
        elif key in _CHOICES:
            kwargs.update(choices=_CHOICES[key])
        else:
            kwargs.update(type=_TYPES.get(key, str), metavar=key.split("_")[-1].upper())
        parser.add_argument(f"--{key.replace('_', '-')}", **kwargs)
    parser.add_argument("--max-evals", type=int, default=argparse.SUPPRESS, metavar="N",
                        help="L-BFGS loss evaluations per iteration (default: 20)")
    parser.add_argument("--config", metavar="SETTINGS_JSON",
                        help="start from the settings.json of an earlier run (flags still override it)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    return parser


def apply_flags(settings: Mapping[str, Any], args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """(settings, maxEvals): SETTINGS, then the --config file's values, then every flag given."""
    settings, max_evals = dict(settings), 20
    if args.config:
        record = read_record(args.config)
        settings.update(record["settings"])
        max_evals = record.get("max_evals", max_evals)
    for key, value in vars(args).items():
        if key in DEFAULTS:
            # One style image or content layer reads as the chapter writes it: a plain string.
            single = key in ("style_path", "content_layer") and len(value) == 1
            settings[key] = value[0] if single else value
    return settings, getattr(args, "max_evals", max_evals)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so the run can keep what it has."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def run(main: Callable[[], None], argv: Sequence[str] | None = None) -> int:
    """Run a script's main: user errors become one line on stderr (exit 2; system errors 1), Ctrl-C 130."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except NeuralStyleError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder that vanished: the system's words, without a traceback
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print("[INFO] stopped; every finished image is kept", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    return 0
