"""`fmnist bench`: every artifact (and the Keras float model when TensorFlow is installed)
measured the same way: size, accuracy against the float model, latency, throughput, cold
start and memory of a fresh process."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fmnist import formats, machine
from fmnist.adapters import Adapters
from fmnist.bench import cold_start, measure
from fmnist.bench import profile as profiling
from fmnist.bench.row import CLASSIFIER, Row
from fmnist.bench.targets import Group
from fmnist.errors import FmnistError
from fmnist.runtime.classifier import Classifier

if TYPE_CHECKING:
    from rich.progress import Progress

KERAS_ROWS = {"keras-predict": "model.predict", "keras-call": "model(x)"}  # as the seeds do; a direct call
SOURCE_ROW = "source-onnx"  # a user's ONNX model, as given, in onnxruntime


@dataclass(frozen=True)
class Settings:
    threads: tuple[int, ...] = (1, 2)
    batches: tuple[int, ...] = (1, 32, 256)
    budget: measure.Budget = measure.Budget()
    cold_starts: int = 5
    keras: bool = True
    images: int | None = None  # accuracy on the first N test images; None: all
    profile: bool = False  # each artifact's time (or work) per operator

    def to_json(self, images: int, quick: bool) -> dict:
        return {
            "threads": list(self.threads),
            "batches": [str(b) for b in self.batches],
            "iterations": self.budget.iterations,
            "warmup": self.budget.warmup,
            "seconds_per_measurement": self.budget.seconds,
            "cold_starts": self.cold_starts,
            "quick": quick,
            "images": images,
        }


QUICK = Settings(threads=(1,), batches=(1, 32), budget=measure.Budget(200, 10, 2.0), cold_starts=1)


@dataclass(frozen=True)
class Planned:
    """One row to measure."""

    group: Group
    name: str  # the row's label within its group
    path: Path
    infer: Callable[[np.ndarray], np.ndarray]
    threads: int  # 0: the framework's own default
    format: str  # a format name, or one of KERAS_ROWS
    precision: str
    cold_start: str | None  # a key of cold_start.SCRIPTS; None: not measured
    macs: int | None
    call: str  # how it is called: Classifier, runtime (the bare runtime call), or a KERAS_ROWS call


def _keras_functions(path: Path, adapters: Adapters) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The Keras model's two calls, each fed the pixels as the model takes them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model, feed = keras.models.load_model(path, compile=False, safe_mode=True), adapters.feed
    return {
        "keras-predict": lambda x: model.predict(feed(x), batch_size=len(x), verbose=0),
        "keras-call": lambda x: np.asarray(model(feed(x), training=False)),
    }


def _onnx_source(path: Path, adapters: Adapters) -> Callable[[np.ndarray], np.ndarray]:
    """A user's ONNX model in onnxruntime, fed the pixels as it takes them."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name, feed = session.get_inputs()[0].name, adapters.feed
    return lambda x: session.run(None, {name: feed(x)})[0]


def plan(groups: list[Group], settings: Settings, notes: list[str]) -> list[Planned]:
    """Every row: the Keras rows of each group first, then each artifact at each thread count
    through `Classifier`, and once through its bare runtime call (the Classifier's overhead)."""
    has_tf = importlib.util.find_spec("tensorflow") is not None
    rows = []
    for group in groups:
        for label, reason in group.skipped.items():
            notes.append(f"{group.name}/{label} skipped: {reason}")
        if group.keras and settings.keras and has_tf:
            for name, fn in _keras_functions(group.keras, group.adapters).items():
                rows.append(
                    Planned(group, name, group.keras, fn, 0, name, "float32", name, group.macs, KERAS_ROWS[name])
                )
        elif group.keras and settings.keras:
            notes.append(f"{group.name}: Keras rows skipped: TensorFlow is not installed (pip install 'fmnist[train]')")
        if group.onnx and formats.installed("onnx"):
            infer = _onnx_source(group.onnx, group.adapters)
            rows.append(Planned(group, SOURCE_ROW, group.onnx, infer, 0, SOURCE_ROW, "float32", None, group.macs,
                                "onnxruntime"))  # fmt: skip
        for name, path in group.artifacts.items():
            counts = settings.threads if formats.RUNTIMES[formats.family_of(path)].threaded else (1,)
            opened = Classifier(path, counts[0])  # its manifest read and its file hashed once
            fmt = opened.format.name if opened.format else f"{path.suffix[1:]}-{opened.precision}"
            source = opened.manifest.source if opened.manifest else {}
            macs = group.macs or source.get("training", {}).get("macs")
            for threads in counts:
                classifier = opened if threads == counts[0] else opened.with_threads(threads)
                row = Planned(group, name, path, classifier.logits, threads, fmt, classifier.precision, "runtime", macs,
                              CLASSIFIER)  # fmt: skip
                rows.append(row)
                if threads == counts[0]:
                    bare = classifier.backend.bare()
                    rows.append(dataclasses.replace(row, infer=bare, cold_start=None, call="runtime"))
    return rows


def run(
    groups: list[Group],
    pixels: np.ndarray,
    labels: np.ndarray,
    settings: Settings,
    *,
    progress: Progress | None = None,
    emulated: str | None = None,
    command: str | None = None,
    quick: bool = False,
) -> dict:
    """Measure every artifact of every group at every thread setting; return the report."""
    notes: list[str] = []
    planned = plan(groups, settings, notes)
    if not planned:
        raise FmnistError("nothing to measure: " + ("; ".join(notes) or "no artifact or Keras model given"))
    profiled = (
        {f"{g.name}/{label}": path for g in groups for label, path in g.artifacts.items()} if settings.profile else {}
    )
    total = len(planned) * (3 + len(settings.batches)) + len(profiled)
    task = progress.add_task("measuring", total=total) if progress else None

    def step(description: str) -> None:
        if progress and task is not None:
            progress.update(task, description=description, advance=1)

    rows, predictions, references = [], {}, {}
    scored, labels = pixels[: settings.images], labels[: settings.images]
    for row in planned:
        label = f"{row.group.name}/{row.name} ({row.call}, {row.threads or 'auto'} threads)"
        step(f"{label}: accuracy")
        if row.path not in predictions:
            logits = [row.infer(scored[i : i + 1000]) for i in range(0, len(scored), 1000)]
            predictions[row.path] = np.concatenate(logits).argmax(1)
        predicted = predictions[row.path]
        if row.group.name not in references and row.precision == "float32":
            references[row.group.name] = (row.name, predicted)
        reference_name, reference = references.get(row.group.name, (None, None))
        step(f"{label}: batch-1 latency")
        latency = measure.latency(row.infer, pixels, settings.budget)
        speed = {}
        for batch in settings.batches:
            step(f"{label}: throughput at batch {batch}")
            if batch == 1:  # one image per call: the latency's median call, measured once, not twice
                speed["1"] = round(1e6 / latency.p50, 1)
            else:
                speed[str(batch)] = measure.throughput(row.infer, pixels, batch, settings.budget)
        step(f"{label}: cold start")
        cold = row.cold_start and cold_start.measure(row.cold_start, row.path, row.threads, settings.cold_starts)
        accuracy = float((predicted == labels).mean())
        measured = Row(
            artifact=f"{row.group.name}/{row.name}",
            call=row.call,
            file=str(row.path),
            format=row.format,
            precision=row.precision,
            threads=row.threads,
            bytes=row.path.stat().st_size,
            accuracy=accuracy,
            reference=reference_name,
            delta_accuracy=None if reference is None else accuracy - float((reference == labels).mean()),
            agreement=None if reference is None else float((predicted == reference).mean()),
            latency_us=latency.summary(),
            throughput=speed,
            cold_start_ms=cold.ms if cold else None,
            peak_rss_mb=cold.peak_rss_mb if cold else None,
            macs=row.macs,
            gmacs=None if not row.macs else round(row.macs * max(speed.values()) / 1e9, 2),
            latency_samples_us=list(latency.samples),
        )
        rows.append(measured.to_json())
    profiles = {}
    for label, path in profiled.items():
        step(f"{label}: operators")
        profiles[label] = profiling.profile(path, pixels[:1000])
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**machine.describe(), "emulated": emulated},
        "settings": settings.to_json(len(labels), quick),
        "rows": rows,
        "notes": notes,
        **({"profile": profiles} if profiles else {}),
    }
