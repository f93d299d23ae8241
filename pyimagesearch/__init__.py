"""PyImageSearch deep-learning helpers: here, Gatys et al. neural style transfer."""

import os

# The port is written against TensorFlow; Keras 3 picks its backend once, at first import.
os.environ["KERAS_BACKEND"] = "tensorflow"
# TensorFlow's C++ start-up chatter buries the lines our users need to read.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
