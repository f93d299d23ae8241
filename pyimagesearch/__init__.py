"""PyImageSearch deep-learning helpers: here, Gatys et al. neural style transfer."""

import os

# The port is written against TensorFlow, and Keras 3 picks its backend once, at its first import:
# ask for TensorFlow unless the user chose otherwise (NeuralStyle then says it needs TensorFlow).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
