"""Knowledge distillation from trained runs: soft targets, and the loss that mixes them in.

The teachers see each batch as the student does, after augmentation: in training the model
`fit` trains (`pipeline.Taught`) returns ``[student logits (10) | teachers' mean logits (10)]``
(a teacher that saw only the unaugmented images would answer for a picture the student never
got). Their forward pass runs inside the training step, on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras

from fmnist import contract, folders
from fmnist.errors import FmnistError


def teachers(runs: Sequence[str]) -> list[keras.Model]:
    """Each run's model.keras, checked to return 10 logits."""
    models = []
    for run in map(Path, runs):
        path = folders.run_model(run, "--teacher")
        model = keras.models.load_model(path, compile=False, safe_mode=True)
        if tuple(model.outputs[0].shape)[1:] != (contract.NUM_CLASSES,):
            raise FmnistError(f"--teacher {run}: its model does not return {contract.NUM_CLASSES} logits")
        models.append(model)
    return models


def records(teachers: Sequence[str]) -> list[dict]:
    """Each teacher run's folder, architecture and test accuracy, from its metrics.json."""
    found = []
    for run in map(Path, teachers):
        metrics = folders.run_metrics(run)
        found.append({"run": str(run), "arch": metrics.get("arch"), "test_accuracy": metrics.get("test_accuracy")})
    return found


def accuracy(labels: Any, outputs: Any) -> Any:
    """Top-1 accuracy of the student's logits, the first 10 columns of the outputs."""
    return keras.metrics.categorical_accuracy(labels, outputs[:, : contract.NUM_CLASSES])


def loss(label_smoothing: float, weight: float, temperature: float) -> Callable[[Any, Any], Any]:
    """Cross-entropy with the labels, mixed with T² · KL(teacher ‖ student) at temperature T
    when the outputs carry the teachers' logits after the student's (Hinton et al., 2015)."""
    ops = keras.ops

    def distillation(labels: Any, outputs: Any) -> Any:
        logits = outputs[:, : contract.NUM_CLASSES]
        hard = keras.losses.categorical_crossentropy(labels, logits, from_logits=True, label_smoothing=label_smoothing)
        if outputs.shape[-1] == contract.NUM_CLASSES:
            return hard
        teacher = ops.softmax(outputs[:, contract.NUM_CLASSES :] / temperature)
        student = ops.softmax(logits / temperature)
        soft = keras.losses.kl_divergence(teacher, student) * temperature**2
        return (1 - weight) * hard + weight * soft

    return distillation
