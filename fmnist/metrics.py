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


def per_class_scores(matrix: np.ndarray) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of each class, by class name (0 where a count is 0)."""
    hits = matrix.diagonal().astype(np.float64)
    precision = hits / np.maximum(matrix.sum(axis=0), 1)
    recall = hits / np.maximum(matrix.sum(axis=1), 1)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(hits), where=precision + recall > 0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f)}
        for name, p, r, f in zip(CLASS_NAMES, precision, recall, f1, strict=True)
    }


def most_confused(matrix: np.ndarray, count: int = 5) -> list[dict]:
    """The `count` largest off-diagonal cells: which true class was taken for which, how often."""
    off = matrix.astype(np.int64) * (1 - np.eye(len(matrix), dtype=np.int64))
    cells = np.argsort(-off, axis=None, kind="stable")[:count]
    pairs = [np.unravel_index(cell, off.shape) for cell in cells]
    return [
        {"true": CLASS_NAMES[i], "predicted": CLASS_NAMES[j], "images": int(off[i, j])} for i, j in pairs if off[i, j]
    ]
