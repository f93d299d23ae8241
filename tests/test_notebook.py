"""The example notebook, executed headless on tiny images as a user would run it."""

import base64
import io
import re

import nbclient
import nbformat
import numpy as np
from PIL import Image

from tests.conftest import ROOT


def test_example_notebook_runs_and_shows_the_transfer(tiny_images, tmp_path):
    notebook = nbformat.read(ROOT / "notebooks" / "neural_style.ipynb", as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = (f"CONTENT = {tiny_images['input_path']!r}\nSTYLE = {tiny_images['style_path']!r}\n"
                         f"OUTPUT = {str(tmp_path / 'out')!r}\nMAX_SIZE = 64\nITERATIONS = 3\nMAX_EVALS = 4\n")
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    losses = [float(v) for v in re.findall(r"iteration \d+: loss ([0-9.e+]+)", text)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    # The live picture ends as the last iteration's image; the last cell shows it beside its recoloured copy.
    images = [Image.open(io.BytesIO(base64.b64decode(o.data["image/png"])))
              for o in outputs if "image/png" in o.get("data", {})]
    assert images[-1].size == (128, 48)
    final = np.asarray(Image.open(tmp_path / "out" / "iter_2.png").convert("RGB"))
    np.testing.assert_array_equal(np.asarray(images[-1].convert("RGB"))[:, :64], final)
