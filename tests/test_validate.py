"""Export verification on logits made by hand: every figure it reports, and each limit on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.errors import VerificationError
from fmnist.export.validate import check, compare
from fmnist.formats import FLOAT_LIMITS, INT8_LIMITS, Limits

Y = np.arange(100) % 10  # ten images of each class


def logits_for(predicted: np.ndarray) -> np.ndarray:
    """Logits whose best class is `predicted`, by a margin of 5."""
    return np.eye(10, dtype=np.float32)[predicted] * 5


def test_compare_reports_accuracy_agreement_per_class_change_and_largest_logit_gap():
    reference = logits_for(Y)  # right on every image
    predicted = Y.copy()
    predicted[[0, 10, 2]] = 1  # two T-shirts and a Pullover taken for Trousers
    logits = logits_for(predicted)
    result = compare(logits, reference, Y)
    assert result["accuracy"] == pytest.approx(0.97) and result["reference_accuracy"] == 1.0
    assert result["delta_accuracy"] == pytest.approx(-0.03) and result["agreement"] == pytest.approx(0.97)
    assert result["max_abs_logit_delta"] == pytest.approx(5.0)  # a label moved: one logit lost 5, another gained 5
    deltas = result["per_class_delta"]
    assert deltas["T-shirt/top"] == pytest.approx(-0.2) and deltas["Pullover"] == pytest.approx(-0.1)
    assert all(deltas[name] == 0 for name in deltas if name not in ("T-shirt/top", "Pullover"))


def test_compare_against_a_wrong_reference_counts_agreement_apart_from_accuracy():
    reference = logits_for((Y + 1) % 10)  # the reference is always wrong
    result = compare(logits_for(Y), reference, Y)
    assert (result["accuracy"], result["reference_accuracy"], result["agreement"]) == (1.0, 0.0, 0.0)
    assert result["delta_accuracy"] == 1.0


def result(agreement: float = 1.0, delta: float = 0.0, drop: float = 0.0) -> dict:
    return {
        "agreement": agreement,
        "max_abs_logit_delta": delta,
        "accuracy": 0.9 - drop,
        "reference_accuracy": 0.9,
        "delta_accuracy": -drop,
    }


@pytest.mark.parametrize(
    "figures, limits, message",
    [
        (result(agreement=0.999), FLOAT_LIMITS, None),  # at the limit: passes
        (result(agreement=0.9989), FLOAT_LIMITS, r"m: top-1 agreement with the Keras model is 99.89%, below the "
         r"99.9% limit \(--min-agreement\)"),
        (result(delta=1e-3), FLOAT_LIMITS, None),
        (result(delta=1.1e-3), FLOAT_LIMITS, r"m: logits differ from the Keras model by up to 0.0011, above the "
         r"0.001 limit \(--max-logit-delta\)"),
        (result(drop=0.005), INT8_LIMITS, None),
        (result(drop=0.0051), INT8_LIMITS, r"m: accuracy 89.49% is 0.51 points below the float model's 90.00% "
         r"\(limit: 0.5, --max-accuracy-drop\); try --calibration-method or a larger --calibration-size"),
        (result(agreement=0.5, delta=9.0), INT8_LIMITS, None),  # int8 formats are held to accuracy only
        (result(drop=0.5), FLOAT_LIMITS, None),  # float ones to agreement and logits only
        (result(drop=-0.01), Limits(max_accuracy_drop=0.0), None),  # more accurate than the float model
        (result(drop=0.6), Limits(max_accuracy_drop=0.5), r"m: accuracy 30.00% is 60.00 points below the float "
         r"model's 90.00% \(limit: 50.0, --max-accuracy-drop\); try .*"),
    ],
)  # fmt: skip
def test_each_limit_passes_at_its_value_and_fails_just_past_it(figures, limits, message):
    if message is None:
        check("m", figures, limits)
    else:
        with pytest.raises(VerificationError, match=f"^{message}$"):
            check("m", figures, limits)


def test_the_first_limit_broken_is_the_one_named():
    with pytest.raises(VerificationError, match="--min-agreement"):
        check("m", result(agreement=0.5, delta=1.0), FLOAT_LIMITS)
