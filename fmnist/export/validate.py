"""Run an artifact with its own runtime on the test set and compare it with the source model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist.errors import VerificationError
from fmnist.formats import Limits
from fmnist.metrics import confusion_matrix, per_class_accuracy
from fmnist.runtime.backends import open_backend


def run_artifact(path: Path, pixels: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Float32 logits of `pixels` (uint8 [N,28,28,1]) from the artifact's own runtime."""
    backend = open_backend(path)
    return np.concatenate([backend(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])


def compare(logits: np.ndarray, reference: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, Δ accuracy, top-1 agreement, per-class Δ and max |Δ logit| against a reference."""
    predicted, expected = logits.argmax(1), reference.argmax(1)
    mine = per_class_accuracy(confusion_matrix(y, predicted))
    theirs = per_class_accuracy(confusion_matrix(y, expected))
    accuracy, reference_accuracy = float((predicted == y).mean()), float((expected == y).mean())
    return {
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "delta_accuracy": accuracy - reference_accuracy,
        "agreement": float((predicted == expected).mean()),
        "max_abs_logit_delta": float(np.abs(logits - reference).max()),
        "per_class_delta": {name: mine[name] - theirs[name] for name in mine},
    }


def check(name: str, result: dict, limits: Limits, against: str = "the Keras model") -> None:
    """Raise `VerificationError` naming the first limit that `result` breaks (`against`: the reference)."""
    if limits.min_agreement is not None and result["agreement"] < limits.min_agreement:
        raise VerificationError(
            f"{name}: top-1 agreement with {against} is {result['agreement']:.2%}, "
            f"below the {limits.min_agreement:.1%} limit (--min-agreement)"
        )
    if limits.max_logit_delta is not None and result["max_abs_logit_delta"] > limits.max_logit_delta:
        raise VerificationError(
            f"{name}: logits differ from {against} by up to {result['max_abs_logit_delta']:.2g}, "
            f"above the {limits.max_logit_delta:g} limit (--max-logit-delta)"
        )
    steps = result.get("max_source_steps")
    if limits.max_source_steps is not None and steps is not None and steps > limits.max_source_steps:
        raise VerificationError(
            f"{name}: int8 logits differ from those of {result['source']}, which it is made from, by up to "
            f"{steps:g} output steps, above the {limits.max_source_steps:g} limit"
        )
    if limits.max_accuracy_drop is not None and -result["delta_accuracy"] > limits.max_accuracy_drop:
        raise VerificationError(
            f"{name}: accuracy {result['accuracy']:.2%} is {-100 * result['delta_accuracy']:.2f} points below "
            f"the float model's {result['reference_accuracy']:.2%} (limit: {100 * limits.max_accuracy_drop:.1f}, "
            "--max-accuracy-drop); try --calibration-method or a larger --calibration-size"
        )


def against_source(logits: np.ndarray, source: str, source_logits: np.ndarray, step: float) -> dict:
    """How far an int8 artifact's logits are from those of the format it is made from, in output steps."""
    return {
        "source": source,
        "max_source_steps": float(np.round(np.abs(logits - source_logits).max() / step, 3)),
        "source_agreement": float((logits.argmax(1) == source_logits.argmax(1)).mean()),
    }


def verify(
    path: Path,
    logits: np.ndarray,
    limits: Limits,
    reference: np.ndarray,
    y: np.ndarray,
    source: dict | None = None,
    against: str = "the Keras model",
) -> dict:
    """Compare an artifact's logits with the reference (`against` names it; `source` from `against_source`);
    raise `VerificationError` past its limits."""
    result = compare(logits, reference, y) | (source or {})
    check(path.name, result, limits, against)
    return result
