"""Which Keras backend trains, TensorFlow or JAX: chosen before Keras is first imported.

Importing this module imports neither, so the command line can refuse a backend that is not
installed before anything slow starts.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from fmnist.errors import FmnistError

EXTRAS = {"tensorflow": "train", "jax": "train-jax"}  # the pip extra that installs each


def choose(name: str = "auto") -> str:
    """Set Keras's backend: `auto` is $KERAS_BACKEND when set, else TensorFlow when it is installed,
    else JAX. A backend whose packages are missing, or other than the one Keras already runs on in
    this process, is refused in one sentence."""
    if name == "auto":
        name = os.environ.get("KERAS_BACKEND") or ("tensorflow" if _installed("tensorflow") else "jax")
    if name not in EXTRAS:
        raise FmnistError(f"backend {name!r} is not one fmnist trains on; choose {' or '.join(EXTRAS)}")
    missing = [package for package in (name, "keras") if not _installed(package)]
    if missing:
        raise FmnistError(
            f"training on {name} needs {' and '.join(missing)}, not installed here; "
            f"pip install 'fmnist[{EXTRAS[name]}]'"
        )
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if running != name:
            raise FmnistError(f"Keras already runs on {running} in this process; it cannot switch to {name}")
    os.environ["KERAS_BACKEND"] = name
    return name


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def devices() -> list[str]:
    """The devices Keras computes on here, accelerators first (after `choose`)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices()]
    import tensorflow as tf

    found = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [d.name for d in found]


def on_gpu() -> bool:
    return any("gpu" in d.lower() or "cuda" in d.lower() for d in devices())


def mixed_policy() -> str:
    """Keras's mixed-precision policy for this backend: bfloat16 on JAX, float16 on TensorFlow."""
    import keras

    return "mixed_bfloat16" if keras.backend.backend() == "jax" else "mixed_float16"


def seed(value: int) -> None:
    """Seed Python, NumPy and Keras. On JAX, without the TensorFlow import Keras would make to seed
    tf.data as well: it is told TensorFlow is absent, which keeps it out of this process."""
    import keras

    hidden = keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules
    if hidden:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import tensorflow: ImportError
    try:
        keras.utils.set_random_seed(value)
    finally:
        if hidden:
            del sys.modules["tensorflow"]
