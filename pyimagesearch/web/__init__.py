"""The local web page: drop a photo and a painting, move the sliders, watch it paint.

    python style_transfer.py --web        (or: python -m pyimagesearch.web)

controls.py derives the page's controls from the settings schema, uploads.py brings what the
browser sends into a run's folder, page_run.py paints one run in a worker thread and reports on it,
pace.py says how long a run will take here, runs.py reads the runs on disk for the gallery tab,
and page.py lays the page out and serves it. Importing this package loads neither Gradio nor
TensorFlow.
"""
