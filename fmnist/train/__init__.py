"""Training: architectures, the tf.data pipeline and the resumable trainer (TensorFlow lives here)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
