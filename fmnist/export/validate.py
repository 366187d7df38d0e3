"""Run an artifact with its own runtime on the test set and compare it with the Keras model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.errors import FmnistError
from fmnist.metrics import confusion_matrix, per_class_accuracy
from fmnist.runtime.backends import open_backend


class VerificationError(FmnistError):
    """An artifact disagrees with the float model beyond its gate; it is not published."""


@dataclass(frozen=True)
class Gates:
    min_float_agreement: float = 0.999  # top-1 agreement of float artifacts with Keras
    max_float_logit_delta: float = 1e-3  # max |Δ logit| of float artifacts
    max_int8_accuracy_drop: float = 0.005  # accuracy lost by int8 artifacts (fraction)


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


def verify(path: Path, precision: str, reference: np.ndarray, pixels: np.ndarray, y: np.ndarray,
           gates: Gates = Gates()) -> dict:
    """Compare an artifact with the reference logits; raise `VerificationError` past its gate."""
    result = compare(run_artifact(path, pixels), reference, y)
    if precision == "float32":
        if result["agreement"] < gates.min_float_agreement:
            raise VerificationError(
                f"{path.name}: top-1 agreement with the Keras model is {result['agreement']:.2%}, "
                f"below the {gates.min_float_agreement:.1%} gate"
            )
        if result["max_abs_logit_delta"] > gates.max_float_logit_delta:
            raise VerificationError(
                f"{path.name}: logits differ from the Keras model by up to "
                f"{result['max_abs_logit_delta']:.2g}, above the {gates.max_float_logit_delta:g} gate"
            )
    elif -result["delta_accuracy"] > gates.max_int8_accuracy_drop:
        raise VerificationError(
            f"{path.name}: int8 accuracy {result['accuracy']:.2%} is "
            f"{-100 * result['delta_accuracy']:.2f} points below the float model's "
            f"{result['reference_accuracy']:.2%} (gate: {100 * gates.max_int8_accuracy_drop:.1f}); "
            "try --calibration-method or a larger --calibration-size"
        )
    return result
