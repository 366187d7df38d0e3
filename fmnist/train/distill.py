"""Knowledge distillation from trained runs: soft targets, and the loss that mixes them in.

The teachers see each batch as the student does, after augmentation: the input pipeline
appends their averaged logits to the one-hot labels, so the targets are
``[labels (10) | teacher logits (10)]`` (a teacher that saw only the unaugmented images
would answer for a picture the student never got). Their forward pass runs in tf.data,
beside the training step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras

from fmnist import contract, folders
from fmnist.errors import FmnistError


def teachers(runs: Sequence[str]) -> Callable[[Any], Any]:
    """The mean logits of each run's model.keras, as a function of a uint8 image batch."""
    models = []
    for run in map(Path, runs):
        path = folders.run_model(run, "--teacher")
        model = keras.models.load_model(path, compile=False, safe_mode=True)
        if tuple(model.outputs[0].shape)[1:] != (contract.NUM_CLASSES,):
            raise FmnistError(f"--teacher {run}: its model does not return {contract.NUM_CLASSES} logits")
        models.append(model)
    return lambda images: keras.ops.mean(keras.ops.stack([m(images, training=False) for m in models]), axis=0)


def records(teachers: Sequence[str]) -> list[dict]:
    """Each teacher run's folder, architecture and test accuracy, from its metrics.json."""
    found = []
    for run in map(Path, teachers):
        metrics = folders.run_metrics(run)
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
