"""python -m pyimagesearch.web: the local web page (the same as python style_transfer.py --web)."""

from __future__ import annotations

import argparse
import sys

from pyimagesearch.cli import run


def main(argv: list[str] | None = None) -> None:
    from pyimagesearch.runtime import start_backend

    parser = argparse.ArgumentParser(prog="python -m pyimagesearch.web", description=__doc__)
    parser.add_argument("--output-path", default="output", help="the folder every run of the page goes under")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every machine that "
                        "can reach this one may open the page and paint)")
    parser.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    parser.add_argument("--open", action="store_true", help="open the page in the browser")
    parser.add_argument("--backend", choices=("tensorflow", "torch", "jax"), help="the Keras backend (default: "
                        "KERAS_BACKEND's, else tensorflow)")
    args = parser.parse_args(argv)
    start_backend([] if args.backend is None else ["--backend", args.backend])
    from pyimagesearch.web.serve import serve

    serve(args.output_path, host=args.host, port=args.port, open_browser=args.open)


if __name__ == "__main__":
    sys.exit(run(main))
