"""One row of a bench report: what `fmnist bench` measured for one artifact, call and thread count.

`bench.json` keeps each row as `Row.to_json()`; every reader of a report (its tables, its CSV,
`fmnist bench compare`) reads rows through `Row.from_json`, which also reads reports written
before a field existed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fmnist.errors import FmnistError

CLASSIFIER = "Classifier"  # the call of a row through `fmnist.runtime.Classifier`


@dataclass(frozen=True)
class Row:
    """Fields after `throughput` may be missing from a report written before they existed."""

    artifact: str  # "GROUP/LABEL": the model's group (an export folder's run, "default", "files") and the row's label
    format: str  # the format's name (tflite-int8, ...) or a Keras row's name: never the runtime family
    threads: int  # 0: the framework's own default
    latency_us: dict[str, float]  # p50, p90, p99, min, max of batch-1 calls
    throughput: dict[str, float]  # images/s by batch size
    call: str = CLASSIFIER  # how it was called: Classifier, runtime (the bare runtime call), or a Keras row's call
    file: str = ""
    precision: str = "unknown"
    bytes: int = 0
    accuracy: float | None = None
    reference: str | None = None  # the float row its Δ accuracy and agreement are measured against
    delta_accuracy: float | None = None
    agreement: float | None = None
    cold_start_ms: float | None = None
    peak_rss_mb: float | None = None
    macs: int | None = None
    gmacs: float | None = None
    latency_samples_us: list[float] = field(default_factory=list)  # every timed batch-1 call

    @property
    def model(self) -> str:
        return self.artifact.split("/")[0]

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What `fmnist bench compare` matches rows of two reports by."""
        return self.model, self.format, self.call, self.threads

    @classmethod
    def from_json(cls, record: dict) -> Row:
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in record.items() if k in known})
        except TypeError as exc:
            raise FmnistError(f"not a bench report row: {exc.args[0].removeprefix('Row.__init__() ')}") from None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)
