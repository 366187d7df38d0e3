"""What an export's manifest records: each artifact's entry, and the header (the contract, the source
model and how it was trained, the tools' versions, the command)."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

from fmnist import __version__, contract, folders, formats
from fmnist.export.options import CALIBRATION_SEED, Job
from fmnist.folders import Entry, Manifest
from fmnist.formats import Format

TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "tflite-micro", "numpy")


def tool_versions() -> dict:
    versions = {"fmnist": __version__}
    for name in TOOLS:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return versions


def training_record(model_path: Path) -> dict:
    """How the model was trained (command, seed, architecture), from its run's metrics.json."""
    metrics = folders.run_metrics(model_path.parent)
    keys = ("command", "seed", "arch", "epochs", "best_epoch", "params", "macs")
    return {"training": {k: metrics[k] for k in keys if k in metrics}}


def entry(
    fmt: Format, target: Path, sha256: str, seconds: float, verified: dict, limits: formats.Limits, job: Job
) -> Entry:
    options = job.options
    extra: dict = {name: getattr(options, name) for name in fmt.runtime.options}
    if job.calibration is not None:
        method = fmt.runtime.calibration or options.calibration_method.value
        extra["calibration"] = {"images": len(job.calibration), "method": method, "seed": CALIBRATION_SEED}
    if fmt.companions:
        extra["companions"] = list(fmt.companions)
    if fmt.runtime.describe:
        extra |= fmt.runtime.load("describe")(target)
    return Entry(
        format=fmt.name,
        file=fmt.file,
        family=fmt.family,
        precision=fmt.precision,
        bytes=target.stat().st_size,
        sha256=sha256,
        verified=verified,
        limits={k: v for k, v in dataclasses.asdict(limits).items() if v is not None},
        export_seconds=round(seconds, 2),
        extra=extra,
    )


def manifest(out_dir: Path, source: dict, reference_accuracy: float, artifacts: dict, command: str | None) -> Manifest:
    """A new export's manifest; `source` is `Source.to_json()` (kind, path, sha256, adapters)."""
    model_path = Path(source["path"])
    training = training_record(model_path) if source["kind"] == "fmnist" else {}
    header = {
        "contract": contract.VERSION,
        "class_names": list(contract.CLASS_NAMES),
        "input": {"name": contract.INPUT_NAME, "dtype": "uint8", "shape": ["N", *contract.INPUT_SHAPE]},
        "output": {"name": contract.OUTPUT_NAME, "dtype": "float32", "shape": ["N", contract.NUM_CLASSES]},
        "source": {**source, "test_accuracy": reference_accuracy, **training},
        "tools": tool_versions(),
        "command": command,
        "golden": folders.GOLDEN,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Manifest(out_dir, artifacts, header)


def extended(base: Manifest, out_dir: Path, artifacts: dict, command: str | None) -> Manifest:
    """The manifest of formats made from `base`'s artifacts: its header, with the versions of tools
    it did not record yet (those it did made its artifacts) and the command that added them."""
    header = dict(base.header)
    header["tools"] = {**tool_versions(), **header.get("tools", {})}
    header["later_commands"] = [*header.get("later_commands", []), command]
    header["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return Manifest(out_dir, artifacts, header)
