"""`fmnist export`: convert, calibrate and verify each format, then publish all at once.

Artifacts are built and verified in a hidden staging folder inside the output folder; only
when every requested artifact has passed its gate are they renamed into place, followed by
`manifest.json`. A failed or killed export leaves the previous artifacts and manifest as
they were.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from fmnist import CLASS_NAMES, CONTRACT_VERSION, __version__, data
from fmnist.errors import FmnistError
from fmnist.export import contract
from fmnist.export.validate import Gates, verify
from fmnist.files import sha256_file, write_json
from fmnist.runtime.classifier import ARTIFACTS


@dataclass(frozen=True)
class Format:
    file: str
    runtime: str
    precision: str


FORMATS = {  # in build order: the float ONNX model before its int8 copy
    "onnx": Format(ARTIFACTS["onnx"], "onnx", "float32"),
    "onnx-int8": Format(ARTIFACTS["onnx-int8"], "onnx", "int8"),
    "tflite": Format(ARTIFACTS["tflite"], "tflite", "float32"),
    "tflite-int8": Format(ARTIFACTS["tflite-int8"], "tflite", "int8"),
}
CALIBRATION_SEED = 0


def check_options(formats: list[str], calibration_method: str) -> list[str]:
    """Expand `all` and comma lists; refuse unknown formats or calibration methods."""
    from fmnist.export.convert_onnx import CALIBRATION_METHODS

    names = [f.strip() for value in formats for f in value.split(",") if f.strip()]
    unknown = [f for f in names if f not in FORMATS and f != "all"]
    if unknown or not names:
        raise FmnistError(
            f"unknown format {(unknown or [''])[0]!r}; choose from {', '.join(FORMATS)} or all"
        )
    if calibration_method not in CALIBRATION_METHODS:
        raise FmnistError(
            f"unknown calibration method {calibration_method!r}; choose {', '.join(CALIBRATION_METHODS)}"
        )
    # in FORMATS order: the float ONNX model is built before its int8 copy needs it
    return [f for f in FORMATS if f in names or "all" in names]


def resolve_model(given: Path | None, runs_dir: Path = Path("runs")) -> Path:
    """A model file from a run dir, a .keras file, or (None) the newest run's model."""
    if given is None:
        models = sorted(runs_dir.glob("*/model.keras"), key=lambda p: p.stat().st_mtime)
        if not models:
            raise FmnistError(f"no trained model under {runs_dir}/; run `fmnist train` or name a model")
        return models[-1]
    if given.is_dir():
        if not (given / "model.keras").is_file():
            raise FmnistError(f"{given} has no model.keras; is it a finished `fmnist train` run?")
        return given / "model.keras"
    if not given.exists():
        raise FmnistError(f"{given}: no such file or folder")
    if given.suffix != ".keras":
        raise FmnistError(f"{given}: not a Keras model (expected a .keras file or a run folder)")
    return given


def load_keras(path: Path):
    """Load a .keras file with safe_mode on and check it is a Fashion-MNIST classifier."""
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FmnistError(f"{path}: not a loadable Keras model ({first})") from None
    contract.check_classifier(model, path)
    return model


def tool_versions() -> dict:
    names = ["tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy"]
    versions = {"fmnist": __version__}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return versions


def training_record(model_path: Path) -> dict:
    """How the model was trained (command, seed, architecture), from its run's metrics.json."""
    path = model_path.parent / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    keys = ("command", "seed", "arch", "epochs", "best_epoch", "params", "macs")
    return {"training": {k: metrics[k] for k in keys if k in metrics}}


def calibration_images(dataset: data.Dataset, size: int) -> np.ndarray:
    """`size` training images, every class in proportion, chosen by a fixed seed."""
    from fmnist.train.pipeline import stratified_subset

    chosen = stratified_subset(dataset.y_train, size, CALIBRATION_SEED)
    return dataset.x_train[chosen][..., None]


def _previous_entries(out_dir: Path, source_sha256: str) -> dict:
    """Entries of the old manifest for the same source whose files are still intact."""
    path = out_dir / "manifest.json"
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    if old.get("source", {}).get("sha256") != source_sha256:
        return {}
    return {
        name: entry for name, entry in old.get("artifacts", {}).items()
        if (out_dir / entry["file"]).is_file()
        and sha256_file(out_dir / entry["file"]) == entry["sha256"]
    }


def export(
    model_path: Path,
    formats: list[str],
    out_dir: Path,
    *,
    calibration_size: int = 512,
    calibration_method: str = "minmax",
    opset: int | None = None,
    data_dir: Path | None = None,
    gates: Gates = Gates(),
    progress=None,
    command: str | None = None,
) -> dict:
    """Export `model_path` to each of `formats` in `out_dir`; return the manifest."""
    from fmnist.export import convert_onnx, convert_tflite

    formats = check_options(formats, calibration_method)
    dataset = data.load(data_dir)
    model = load_keras(model_path)
    source_sha256 = sha256_file(model_path)
    opset = opset or contract.DEFAULT_OPSET
    step = progress or (lambda description: None)

    step("reference: Keras float model on the test set")
    pixels = dataset.x_test[..., None]
    reference = model.predict(pixels, batch_size=1000, verbose=0)
    reference_accuracy = float((reference.argmax(1) == dataset.y_test).mean())
    calibration = None
    if any(FORMATS[f].precision == "int8" for f in formats):
        calibration = calibration_images(dataset, calibration_size)

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".export-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    for stale in out_dir.glob(".manifest.*.json"):
        stale.unlink(missing_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        entries = {}
        for name in formats:
            fmt = FORMATS[name]
            target = staging / fmt.file
            meta = contract.metadata(source_sha256, fmt.precision)
            started = time.perf_counter()
            if fmt.runtime == "onnx" and not (staging / "model.onnx").exists():
                step("onnx: convert with tf2onnx")
                convert_onnx.to_onnx(model, staging / "model.onnx", contract.metadata(source_sha256, "float32"), opset)
            if name == "onnx-int8":
                step(f"onnx-int8: calibrate on {len(calibration)} images ({calibration_method}) and quantise")
                convert_onnx.quantize_onnx(staging / "model.onnx", target, calibration, meta, calibration_method)
            elif name == "tflite":
                step("tflite: convert")
                convert_tflite.to_tflite(model, target, meta)
            elif name == "tflite-int8":
                step(f"tflite-int8: calibrate on {len(calibration)} images and convert")
                convert_tflite.to_tflite_int8(model, target, calibration, meta)
            seconds = time.perf_counter() - started
            step(f"{name}: verify on {len(pixels)} test images")
            verified = verify(target, fmt.precision, reference, pixels, dataset.y_test, gates)
            entries[name] = {
                "file": fmt.file, "format": fmt.runtime, "precision": fmt.precision,
                "bytes": target.stat().st_size, "sha256": sha256_file(target),
                "export_seconds": round(seconds, 2), "verified": verified,
                **({"opset": opset} if fmt.runtime == "onnx" else {}),
                **({"calibration": {"images": len(calibration), "method": calibration_method
                                    if fmt.runtime == "onnx" else "minmax", "seed": CALIBRATION_SEED}}
                   if fmt.precision == "int8" else {}),
            }
        artifacts = {**_previous_entries(out_dir, source_sha256), **entries}
        manifest = {
            "contract": CONTRACT_VERSION,
            "class_names": list(CLASS_NAMES),
            "input": {"name": contract.INPUT_NAME, "dtype": "uint8", "shape": ["N", 28, 28, 1]},
            "output": {"name": contract.OUTPUT_NAME, "dtype": "float32", "shape": ["N", 10]},
            "source": {"path": str(model_path), "sha256": source_sha256,
                       "test_accuracy": reference_accuracy, **training_record(model_path)},
            "tools": tool_versions(),
            "command": command,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "artifacts": {name: artifacts[name] for name in FORMATS if name in artifacts},
        }
        for name in entries:  # every artifact passed: publish them, then the manifest
            os.replace(staging / FORMATS[name].file, out_dir / FORMATS[name].file)
        write_json(out_dir / "manifest.json", manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
