"""Starting the page: Gradio checked for, its upload cache under the output folder, then served."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pyimagesearch.nn.conv.errors import NeuralStyleError

UPLOADS = ".uploads"  # Gradio's cache of what the browser sent, before a run copies it into its folder


def serve(output_path: str, settings: Mapping[str, Any] | None = None, max_evals: int | None = None,
          host: str = "127.0.0.1", port: int | None = None, open_browser: bool = False, block: bool = True,
          calibrate: bool = True) -> Any:
    """Serve the page for runs under output_path, the controls starting at settings; the Gradio app."""
    # Uploads wait under the output folder (not the system's temp folder) until a run takes them; Gradio
    # reads this when it loads, and clears files older than a day.
    os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(os.path.abspath(output_path), UPLOADS))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise NeuralStyleError("the web page needs Gradio: pip install -e '.[web]'") from None
    from .page import Page

    return Page(output_path, settings, max_evals, calibrate).serve(host, port, block, open_browser)
