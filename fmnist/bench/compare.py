"""`fmnist bench compare`: two or more bench reports side by side, with confidence intervals.

Rows are matched by what was measured: model (the report's group name), format, how it was
called and threads. The batch-1 p50 ratio new/base comes with a 95 % bootstrap interval: each
report's raw samples are resampled with replacement (2,000 times, a fixed seed) and the
ratio of the resampled medians taken each time. The interval says how far the noise within
these two runs could move the ratio; it knows nothing of a neighbour who loads the machine
in one run only, so compare runs taken the same way on a quiet machine. A row is faster or
slower when its whole interval lies below or above 1, the same otherwise.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fmnist.bench.row import Row
from fmnist.errors import FmnistError

RESAMPLES = 2000
SEED = 0
CHUNK = 250  # resamples drawn at once: bounds memory for long sample lists


@dataclass(frozen=True)
class Change:
    """One row measured in both reports."""

    key: tuple[str, str, str, int]  # model, format, call, threads
    base_p50: float
    new_p50: float
    ratio: float  # new / base: below 1 is faster
    low: float | None  # the 95 % interval of the ratio; None when a report kept no samples
    high: float | None
    throughput: dict[str, float]  # batch -> new / base images per second: above 1 is faster

    @property
    def verdict(self) -> str:
        if self.low is None or self.high is None:
            return "unknown"
        return "faster" if self.high < 1 else "slower" if self.low > 1 else "same"


def load(path: Path) -> dict:
    """A bench report; a file that is not one is refused with the reason."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FmnistError(f"{path}: not an fmnist bench report (bench.json): {exc}") from None
    if (
        not isinstance(report, dict)
        or not isinstance(report.get("rows"), list)
        or "cpu" not in report.get("machine", {})
    ):
        raise FmnistError(f"{path}: not an fmnist bench report (bench.json): no rows or no machine")
    return report


def _medians(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.choice(samples, size=(CHUNK, len(samples))) for _ in range(RESAMPLES // CHUNK)]
    return np.concatenate([np.median(p, axis=1) for p in picks])


def interval(base: list[float], new: list[float]) -> tuple[float, float]:
    """The 95 % bootstrap interval of median(new) / median(base)."""
    rng = np.random.default_rng(SEED)
    ratios = _medians(np.asarray(new), rng) / _medians(np.asarray(base), rng)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def changes(base: dict, new: dict) -> list[Change]:
    """Every row the two reports share, in the new report's order."""
    before = {row.key: row for row in map(Row.from_json, base["rows"])}
    found = []
    for row in map(Row.from_json, new["rows"]):
        old = before.get(row.key)
        if old is None:
            continue
        low = high = None
        if old.latency_samples_us and row.latency_samples_us:
            low, high = interval(old.latency_samples_us, row.latency_samples_us)
        shared = [b for b in row.throughput if b in old.throughput]
        found.append(
            Change(
                row.key,
                old.latency_us["p50"],
                row.latency_us["p50"],
                row.latency_us["p50"] / old.latency_us["p50"],
                low,
                high,
                {b: row.throughput[b] / old.throughput[b] for b in shared},
            )
        )
    return found


def regressions(found: list[Change], percent: float) -> list[Change]:
    """Rows slower by more than `percent` with confidence: their whole interval lies above it."""
    return [c for c in found if c.low is not None and c.low > 1 + percent / 100]


def to_json(reports: list[tuple[Path, dict]], found: list[list[Change]]) -> dict:
    return {
        "base": {"report": str(reports[0][0]), "machine": reports[0][1]["machine"]},
        "compared": [
            {
                "report": str(path),
                "machine": report["machine"],
                "rows": [{**asdict(c), "key": list(c.key), "verdict": c.verdict} for c in rows],
            }
            for (path, report), rows in zip(reports[1:], found, strict=True)
        ],
    }
