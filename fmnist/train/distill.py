"""Knowledge distillation from trained runs: soft targets, and the loss that mixes them in.

The teachers' logits are computed once, on the training images as they are (not on each
augmented copy), averaged over the teachers, and ride along with the one-hot labels: the
targets are ``[labels (10) | teacher logits (10)]``. A teacher in the training graph would
see each augmented view, at the price of its forward pass on every step; precomputed, it
costs one pass over the training set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fmnist import contract
from fmnist.errors import FmnistError


def teacher_logits(teachers: Sequence[str], images: np.ndarray) -> np.ndarray:
    """float32 [N, 10]: the mean logits of each teacher run's model.keras on uint8 `images`."""
    logits = []
    for run in map(Path, teachers):
        path = run / "model.keras"
        if not path.is_file():
            raise FmnistError(f"--teacher {run}: no model.keras; is it a finished `fmnist train` run?")
        model = keras.models.load_model(path, compile=False, safe_mode=True)
        if tuple(model.outputs[0].shape)[1:] != (contract.NUM_CLASSES,):
            raise FmnistError(f"--teacher {run}: its model does not return {contract.NUM_CLASSES} logits")
        logits.append(model.predict(images[..., None], batch_size=1024, verbose=0))
    return np.mean(logits, axis=0).astype(np.float32)


def records(teachers: Sequence[str]) -> list[dict]:
    """Each teacher run's folder, architecture and test accuracy, from its metrics.json."""
    found = []
    for run in map(Path, teachers):
        try:
            metrics = json.loads((run / "metrics.json").read_text())
        except (OSError, ValueError):
            metrics = {}
        found.append({"run": str(run), "arch": metrics.get("arch"), "test_accuracy": metrics.get("test_accuracy")})
    return found


def accuracy(targets: Any, logits: Any) -> Any:
    """Top-1 accuracy against the labels, the first 10 columns of the targets."""
    return keras.metrics.categorical_accuracy(targets[:, : contract.NUM_CLASSES], logits)


def loss(label_smoothing: float, weight: float, temperature: float) -> Callable[[Any, Any], Any]:
    """Cross-entropy with the labels, mixed with T² · KL(teacher ‖ student) at temperature T
    when the targets carry teacher logits (Hinton et al., 2015)."""
    ops = keras.ops

    def distillation(targets: Any, logits: Any) -> Any:
        labels = targets[:, : contract.NUM_CLASSES]
        hard = keras.losses.categorical_crossentropy(labels, logits, from_logits=True, label_smoothing=label_smoothing)
        if targets.shape[-1] == contract.NUM_CLASSES:
            return hard
        teacher = ops.softmax(targets[:, contract.NUM_CLASSES :] / temperature)
        student = ops.softmax(logits / temperature)
        soft = keras.losses.kl_divergence(teacher, student) * temperature**2
        return (1 - weight) * hard + weight * soft

    return distillation
