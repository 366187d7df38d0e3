"""Training: architectures, the input pipeline and the resumable trainer, on TensorFlow or JAX (Keras 3)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
