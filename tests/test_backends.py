"""The same stage on TensorFlow, PyTorch and JAX: the same loss and gradient (tests/backend_probe.py).

Keras takes one backend per process, so the other backends run the probe in processes of their own;
a backend that is not installed here is skipped (CI installs all three).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.backend_probe import ROOT, measure

OTHERS = [name for name in ("tensorflow", "torch", "jax") if name != keras.backend.backend()]


@pytest.fixture(scope="module")
def here(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    return folder, measure(folder)


@pytest.mark.parametrize("backend", OTHERS)
def test_every_backend_gives_the_same_loss_and_gradient(here, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed here")
    folder, ours = here
    done = subprocess.run([sys.executable, "-m", "tests.backend_probe", str(folder)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": backend})
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = np.load(folder / f"{backend}.npz")
    assert set(theirs.files) == set(ours) == {"chapter", "regions", "tile"}
    for case, a in ours.items():
        b = theirs[case]
        assert a.shape == b.shape, case
        assert abs(b[0] - a[0]) <= 1e-5 * abs(a[0]), (case, a[0], b[0])
        cosine = a[1:] @ b[1:] / (np.linalg.norm(a[1:]) * np.linalg.norm(b[1:]))
        assert cosine >= 0.99999, (case, cosine)
        assert np.linalg.norm(b[1:]) == pytest.approx(np.linalg.norm(a[1:]), rel=1e-4), case
