"""Native against emulated: `fmnist predict` outputs and `fmnist evaluate` results."""

from __future__ import annotations

import json

FLOAT_TOLERANCE = 1e-5  # probability
ACCURACY_TOLERANCE = 0.0005  # 0.05 points


def compare_predictions(native: str, emulated: str, float_model: bool) -> dict:
    """Two `fmnist predict --json --top-k 10` outputs: the labels must be equal and, for a
    float model, every probability within FLOAT_TOLERANCE."""
    ours, theirs = ([json.loads(line) for line in text.splitlines() if line.strip()] for text in (native, emulated))
    problems = []
    if [r["file"] for r in ours] != [r["file"] for r in theirs]:
        problems.append(f"different images: {len(ours)} natively, {len(theirs)} emulated")
    if not ours:
        problems.append("no predictions to compare")
    largest = 0.0
    for a, b in zip(ours, theirs, strict=False):  # a length mismatch is reported above
        if a["label"] != b["label"]:
            problems.append(f"{a['file']}: {a['class']} natively, {b['class']} emulated")
        p, q = ({r["label"]: r["probability"] for r in row["top_k"]} for row in (a, b))
        largest = max(largest, *(abs(p[c] - q.get(c, 0.0)) for c in p))
    if float_model and largest > FLOAT_TOLERANCE:
        problems.append(f"float probabilities differ by {largest:.2g} (tolerance {FLOAT_TOLERANCE:g})")
    return {"images": len(ours), "max_probability_difference": largest, "problems": problems}


def compare_evaluations(native: dict, emulated: dict) -> dict:
    """Two `fmnist evaluate --json` results: the emulated accuracy must be the manifest's, or
    within ACCURACY_TOLERANCE, and every image predicted differently is listed."""
    expected, accuracy = emulated["manifest_accuracy"], emulated["accuracy"]
    differing = [
        {"index": i, "native": a, "emulated": b}
        for i, (a, b) in enumerate(zip(native["predicted"], emulated["predicted"], strict=False))
        if a != b
    ]
    problems = []
    if not len(native["predicted"]) == len(emulated["predicted"]) == emulated["images"] == 10000:
        problems.append(
            f"{emulated['model']}: {emulated['images']} images emulated, {native['images']} natively, expected 10000"
        )
    if expected is None:
        problems.append(f"{emulated['model']}: no manifest accuracy to compare with")
    elif abs(accuracy - expected) > ACCURACY_TOLERANCE + 1e-9:
        problems.append(
            f"{emulated['model']}: {accuracy:.2%} emulated, {expected:.2%} in the manifest "
            f"({len(differing)} images predicted differently)"
        )
    return {
        "accuracy": accuracy,
        "native_accuracy": native["accuracy"],
        "manifest_accuracy": expected,
        "images": emulated["images"],
        "differing_images": differing,
        "problems": problems,
    }
