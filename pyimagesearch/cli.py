"""Command-line plumbing shared by the scripts: SETTINGS keys as flags, and clean exits."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from pyimagesearch.nn.conv.errors import NeuralStyleError
from pyimagesearch.nn.conv.run_folder import read_record
from pyimagesearch.nn.conv.settings import ROWS, SCHEMA, label


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
    for row in SCHEMA:
        if row.key in skip:
            continue
        kwargs: dict[str, Any] = {"dest": row.key, "default": argparse.SUPPRESS,
                                  "help": f"{row.help} (SETTINGS: {_shown(settings.get(row.key, row.default))})"}
        if row.many:
            kwargs.update(nargs="+", metavar=row.many, type=row.type)
        elif isinstance(row.default, bool):
            kwargs.update(action=argparse.BooleanOptionalAction)
        elif row.choices:
            kwargs.update(choices=row.choices, type=row.type)
        else:
            kwargs.update(type=row.type, metavar=row.key.split("_")[-1].upper())
        parser.add_argument(f"--{row.key.replace('_', '-')}", **kwargs)
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
    settings.update(given_settings(args))
    return settings, getattr(args, "max_evals", max_evals)


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings whose flags were given on the command line, as SETTINGS values."""
    given = {}
    for key, value in vars(args).items():
        if key in ROWS:
            # One style image or content layer reads as the chapter writes it: a plain string.
            single = ROWS[key].many and isinstance(ROWS[key].default, str) and len(value) == 1
            given[key] = value[0] if single else value
    return given


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
    except Exception as e:
        message = out_of_memory(e)
        if debug or message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


# Each backend's out-of-memory error, matched by name and words (this module loads none of them), also as
# Ray re-raises it from a worker: TensorFlow's ResourceExhaustedError, PyTorch's OutOfMemoryError, and JAX's
# runtime error saying RESOURCE_EXHAUSTED.
_OUT_OF_MEMORY = {"ResourceExhaustedError": "TensorFlow", "OutOfMemoryError": "PyTorch"}


def out_of_memory(error: BaseException) -> str | None:
    """One line for a backend's out-of-memory error: a picture too large for the GPU, whose memory the size
    check cannot weigh. None for any other error."""
    names = [kind.__name__ for kind in type(error).__mro__]
    backend = next((_OUT_OF_MEMORY[name] for name in names if name in _OUT_OF_MEMORY), None)
    if backend is None and any("RuntimeError" in name for name in names) and "RESOURCE_EXHAUSTED" in str(error):
        backend = "JAX"
    if backend is None:
        return None
    first = (str(getattr(error, "cause", None) or error).strip().splitlines() or ["out of memory"])[0]
    what = re.sub(r"^\{\{.*?\}\}\s*", "", first)  # without the "{{function_node ...}}" it may start with
    return (f"{backend} ran out of memory ({what}); lower {label('max_size')}, or render in tiles with "
            f"{label('tile_size')}; every finished image is kept")
