"""Classification metrics on numpy arrays, shared by training, export and evaluation."""

from __future__ import annotations

import numpy as np

from fmnist.contract import CLASS_NAMES


def confusion_matrix(y: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts of true class (rows) against predicted class (columns)."""
    matrix = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=np.int64)
    np.add.at(matrix, (y.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> dict[str, float]:
    """Recall of each class, by class name."""
    correct = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return dict(zip(CLASS_NAMES, map(float, correct), strict=True))
