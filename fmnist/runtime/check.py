"""`fmnist check`: do the artifacts compute here what they computed when they were exported?

Each export folder carries golden vectors (golden.npz, written by `fmnist export`): a few test
images per class and each artifact's logits for them. Here, in whatever runtime is installed,
each artifact runs on those images again; a changed label, or a logit further off than the
artifact's tolerance (one quantisation step for int8, the float limit otherwise), fails it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fmnist import folders, formats
from fmnist.errors import FmnistError
from fmnist.files import sha256_file
from fmnist.runtime.classifier import Classifier

ROUNDING = 1e-4  # relative: a logit one int8 step away, dequantised in float32, may miss the step by an ulp


@dataclass
class Outcome:
    """One artifact's check."""

    format: str
    file: Path
    runtime: str | None = None  # None: not run here
    skipped: str | None = None  # why it was not run, when no installed runtime can run it
    problem: str | None = None  # why it failed without running
    max_delta: float = 0.0
    tolerance: float = 0.0
    changed: list[str] = field(default_factory=list)  # the images whose label changed

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.changed and self.max_delta <= self.tolerance * (1 + ROUNDING)


def check(model: str | Path | None = None) -> list[Outcome]:
    """Run every artifact named in the golden vectors (or those `model` names) that an installed runtime can run."""
    located = folders.locate(model)
    golden = folders.read_golden(located.folder)
    order = list(formats.FORMATS)
    names = sorted(golden.artifacts, key=lambda n: (order.index(n) if n in order else len(order), n))  # registry order
    outcomes = []
    for name in located.files if located.chosen else names:
        if name not in golden.artifacts:
            where = located.folder / folders.GOLDEN
            raise FmnistError(f"{where} has no golden values for {name}; it has {', '.join(names)}")
        outcomes.append(_check_one(located.folder, name, golden))
    return outcomes


def _check_one(folder: Path, name: str, golden: folders.Golden) -> Outcome:
    values = golden.artifacts[name]
    path = folder / values.file
    outcome = Outcome(name, path, tolerance=values.tolerance)
    if not path.is_file():
        outcome.problem = "its file is missing"
    elif sha256_file(path) != values.sha256:
        outcome.problem = "its file is not the one the golden values were computed for"
    else:
        outcome.skipped = formats.not_installed(path)
    if outcome.problem or outcome.skipped:
        return outcome
    classifier = Classifier(path)
    logits, expected = classifier.logits(golden.images), values.logits
    outcome.runtime = classifier.runtime
    outcome.max_delta = float(np.abs(logits - expected).max())
    outcome.changed = [
        f"test image {index} ({classifier.class_names[was]} → {classifier.class_names[now]})"
        for index, was, now in zip(golden.indices, expected.argmax(1), logits.argmax(1), strict=True)
        if was != now
    ]
    return outcome
