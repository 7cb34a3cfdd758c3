"""TensorFlow/Keras and OpenCV code, no Qt, one sub-package per concern: ``model`` (graph <->
Keras model, import, export), ``data`` (sources, the generated shapes, preprocessing),
``training`` (fit, runs, losses, evaluation), ``probing`` (prober, attributions, pictures) and
``live`` (frame sources, the capture thread, the live pipeline)."""

import os

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# OpenCV's thread pool busy-waits after each call it splits; on frame-sized pictures that buys
# nothing and burns the cores TensorFlow needs (a 640x480 video read costs about 1.2 CPU-ms with
# it, 0.65 without, on two cores). Read when OpenCV starts, so before any module here imports it.
os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")
# OpenCV decodes up to 2**30 pixels by default (3 GB as RGB). Our readers check a picture's
# header first (ml.data.image_header); this tighter cap of OpenCV's own catches what they cannot
# parse. Read when OpenCV starts, like the setting above.
from .data.image_header import OPENCV_MAX_PIXELS  # noqa: E402 (after the settings above)

os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(OPENCV_MAX_PIXELS))
