"""Accuracy of one artifact on labelled images, in its own runtime."""

from __future__ import annotations

import time

import numpy as np

from fmnist.metrics import confusion_matrix, most_confused, per_class_accuracy, per_class_scores
from fmnist.runtime.classifier import Classifier


def evaluate(classifier: Classifier, pixels: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy, per-class accuracy, confusion matrix and every prediction, as JSON-ready data."""
    started = time.perf_counter()
    predicted = classifier.predict(pixels)
    seconds = time.perf_counter() - started
    matrix = confusion_matrix(labels, predicted)
    scores = per_class_scores(matrix)
    return {
        "model": str(classifier.path),
        "runtime": classifier.runtime,
        "precision": classifier.precision,
        "images": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "manifest_accuracy": classifier.entry.verified.get("accuracy") if classifier.entry else None,
        "per_class_accuracy": per_class_accuracy(matrix),
        "per_class": scores,
        "macro_f1": float(sum(s["f1"] for s in scores.values()) / len(matrix)),
        "most_confused": most_confused(matrix),
        "confusion_matrix": matrix.tolist(),
        "seconds": round(seconds, 3),
        "predicted": predicted.tolist(),
    }
