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

from fmnist import contract, formats
from fmnist.errors import FmnistError
from fmnist.files import sha256_file
from fmnist.runtime.classifier import Classifier

FILE = contract.GOLDEN_FILE
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


def golden_folder(model: str | Path | None) -> tuple[Path, list[str] | None]:
    """The folder holding the golden vectors for `model`, and the formats to check (None: all)."""
    from fmnist.runtime.classifier import DEFAULT_MODEL_DIR

    if model is None:
        return DEFAULT_MODEL_DIR, None
    path = Path(model)
    if str(model) in formats.FORMATS and not path.exists():
        return DEFAULT_MODEL_DIR, [str(model)]
    if path.is_file():
        wanted = [f.name for f in formats.FORMATS.values() if f.file == path.name]
        return path.parent, wanted or [path.name]
    if (path / "export" / FILE).is_file():
        return path / "export", None
    return path, None


def check(model: str | Path | None = None) -> list[Outcome]:
    """Run every artifact named in the golden vectors that an installed runtime can run."""
    folder, wanted = golden_folder(model)
    try:
        golden = np.load(folder / FILE, allow_pickle=False)
    except FileNotFoundError:
        raise FmnistError(f"{folder}: no {FILE} here; export again with this fmnist to make one") from None
    except (OSError, ValueError) as exc:
        raise FmnistError(f"{folder / FILE}: not readable golden vectors ({exc})") from None
    with golden:
        names = sorted({key.split(".")[0] for key in golden.files if key.endswith(".logits")})
        outcomes = []
        for name in wanted or names:
            if name not in names:
                raise FmnistError(f"{folder / FILE} has no golden values for {name}; it has {', '.join(names)}")
            outcomes.append(_check_one(folder, name, golden))
    return outcomes


def _check_one(folder: Path, name: str, golden: np.lib.npyio.NpzFile) -> Outcome:
    path = folder / str(golden[f"{name}.file"])
    outcome = Outcome(name, path, tolerance=float(golden[f"{name}.tolerance"]))
    if not path.is_file():
        outcome.problem = "its file is missing"
    elif sha256_file(path) != str(golden[f"{name}.sha256"]):
        outcome.problem = "its file is not the one the golden values were computed for"
    else:
        outcome.skipped = formats.not_installed(path)
    if outcome.problem or outcome.skipped:
        return outcome
    classifier = Classifier(path)
    logits, expected = classifier.logits(golden["images"]), golden[f"{name}.logits"]
    outcome.runtime = classifier.runtime
    outcome.max_delta = float(np.abs(logits - expected).max())
    outcome.changed = [
        f"test image {index} ({classifier.class_names[was]} → {classifier.class_names[now]})"
        for index, was, now in zip(golden["indices"], expected.argmax(1), logits.argmax(1), strict=True)
        if was != now
    ]
    return outcome
