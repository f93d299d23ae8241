from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="neuralstyle",
    version="0.1.0",
    description="Gatys et al. neural style transfer on Keras 3 (TensorFlow, PyTorch or JAX): "
    "a port of the PyImageSearch NeuralStyle chapter",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["pyimagesearch", "pyimagesearch.*"]),
    py_modules=["style_transfer", "generate_examples"],
    install_requires=[
        "tensorflow>=2.16,<2.22",  # Keras 3; tested with 2.21
        "keras>=3.0",
        "numpy>=1.26",
        "scipy>=1.11",
        "opencv-python-headless>=4.8",
        "pillow>=10.0",
        "tqdm>=4.60",
    ],
    extras_require={
        # NVIDIA GPUs on Linux: TensorFlow with its CUDA and cuDNN libraries from PyPI (no system CUDA needed).
        # Elsewhere (macOS, Windows) TensorFlow has no GPU build on PyPI: the extra installs nothing more.
        "gpu": ["tensorflow[and-cuda]>=2.16,<2.22; sys_platform == 'linux'"],
        # --backend torch: NVIDIA (CUDA build on Linux from PyPI), Apple silicon (MPS), AMD and Windows GPUs (install
        # torch from PyTorch's index first, README "Backends"); tested with 2.13 (CPU) here
        "torch": ["torch>=2.4"],
        # --backend jax: CPU; "jax-cuda" for NVIDIA GPUs on Linux
        "jax": ["jax>=0.4.30"],
        "jax-cuda": ["jax[cuda12]>=0.4.30; sys_platform == 'linux'"],
        "ray": ["ray>=2.9"],  # generate_examples.py --ray-address
        # videos: H.264 output that keeps the clip's sound (imageio-ffmpeg ships its own ffmpeg binary)
        "video": ["imageio-ffmpeg>=0.5"],
        # bench/: convergence.py draws with matplotlib; speed.py also times pastiche when installed
        # (pip install pastiche==1.6.0 torch, the CPU build of torch is enough)
        "bench": ["matplotlib>=3.8"],
        # python style_transfer.py --web: the local web page (Gradio 6; tested with 6.31)
        "web": ["gradio>=6.0,<7"],
        # notebooks/: running the example notebook headless, as its test does
        "notebook": ["nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6.29"],
        "test": ["pytest>=8", "ruff>=0.6", "ray>=2.9", "nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6.29",
                 "imageio-ffmpeg>=0.5", "gradio>=6.0,<7", "gradio_client>=2.0,<3"],
    },
)
