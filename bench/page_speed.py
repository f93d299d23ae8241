"""The same run from the web page and from the command line, alternately, on this machine.

    python bench/page_speed.py --size 256 --iterations 5 --max-evals 10 --rounds 2

Starts the page (python style_transfer.py --web, in its own process, its runs in a temporary folder),
waits for its pace measurement with a first small run, then alternates: the command line
(python style_transfer.py with the same photo, painting, settings and seed, a fresh process as a
user would start it) and the page (the same uploads sent by Gradio's Python client, as the browser
does). For each run it reports the wall time (command line: the whole process, TensorFlow's start
included; page: from the request to the final picture) and the painting time (the sum of the
"[INFO] end of iteration ... s" lines each run prints: the optimisation alone), and the page's
ratio to the command line for both.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyimagesearch.nn.conv.device import describe_cpu  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATION = re.compile(r"end of iteration \d+, .*; ([0-9.]+) s; ETA")


def painting_seconds(lines: list[str]) -> float:
    return sum(float(m.group(1)) for line in lines if (m := ITERATION.search(line)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--max-evals", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    folder = tempfile.mkdtemp(prefix="page-speed-")
    photo, painting = (os.path.join(folder, f"{n}.png") for n in ("tubingen", "starry_night"))
    for name, path in (("tubingen", photo), ("starry_night", painting)):
        Image.open(os.path.join(ROOT, "inputs", f"{name}.jpg")).convert("RGB").save(path)
    flags = ["--max-size", str(args.size), "--iterations", str(args.iterations), "--max-evals", str(args.max_evals),
             "--seed", "1"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "style_transfer.py", "--web", "--port", str(port), "--output-path",
                               os.path.join(folder, "page"), *flags], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    try:
        while not any("[PAGE]" in line for line in lines):
            if server.poll() is not None:
                raise SystemExit("".join(lines))
            time.sleep(0.2)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=os.path.join(folder, "dl"))
        params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/paint"]["parameters"]
        request = [p["parameter_default"] for p in params]
        request[0], request[1] = handle_file(photo), [{"image": handle_file(painting), "caption": None}]

        def page() -> tuple[float, float]:
            seen = len(lines)
            start = time.perf_counter()
            client.predict(*request, api_name="/paint")
            wall = time.perf_counter() - start
            time.sleep(0.5)  # the last [INFO] line is printed as the picture is kept
            return wall, painting_seconds(lines[seen:])

        def command_line(k: int) -> tuple[float, float]:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "style_transfer.py", "--input-path", photo, "--style-path", painting,
                                   "--output-path", os.path.join(folder, f"cli{k}"), *flags], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
            return time.perf_counter() - start, painting_seconds(done.stdout.splitlines())

        page()  # waits for the page's pace measurement; loads what the first run loads
        print(f"# {describe_cpu()}; {args.size} px, {args.iterations} iterations x {args.max_evals} evaluations")
        print(f"{'round':>5} {'cli wall':>9} {'page wall':>9} {'ratio':>6} {'cli paint':>10} {'page paint':>10} "
              f"{'ratio':>6}")
        for k in range(args.rounds):
            (cw, cp), (pw, pp) = command_line(k), page()
            print(f"{k + 1:>5} {cw:>8.1f}s {pw:>8.1f}s {pw / cw:>6.2f} {cp:>9.1f}s {pp:>9.1f}s {pp / cp:>6.2f}",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
