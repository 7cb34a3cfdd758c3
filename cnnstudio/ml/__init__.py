"""TensorFlow/Keras and OpenCV code, no Qt: building and importing models, datasets,
training, probes and capture sources."""

import os

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
