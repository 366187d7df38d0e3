"""`fmnist export`: convert, calibrate and verify each format, then publish all at once.

Artifacts are built and verified in a hidden staging folder inside the output folder; only
when every requested artifact has passed its limits are they renamed into place, followed by
`manifest.json`. A failed or killed export leaves the previous artifacts and manifest as
they were. What each format is, how it is made and how far it may stray from the Keras
model comes from the format registry (`fmnist.formats`).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract, data, folders, formats
from fmnist.errors import FmnistError
from fmnist.export import golden, record
from fmnist.export.options import CALIBRATION_SEED, ExportOptions, Job
from fmnist.export.validate import against_source, run_artifact, verify
from fmnist.files import sha256_file
from fmnist.folders import Entry, Manifest
from fmnist.formats import Format


def load_keras(path: Path) -> Any:
    """Load a .keras file with safe_mode on and check that it keeps the model contract."""
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 -- Keras raises many kinds for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FmnistError(f"{path}: not a loadable Keras model ({first})") from None
    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:  # a Sequential model never built has neither
        inputs, outputs = [], []
    contract.check_signature(
        path,
        len(inputs),
        len(outputs),
        str(inputs[0].dtype) if inputs else "unknown",
        inputs[0].shape if inputs else (),
        outputs[0].shape if outputs else (),
    )
    return model


def calibration_images(dataset: data.Dataset, size: int) -> np.ndarray:
    """`size` training images, every class in proportion, chosen by a fixed seed."""
    chosen = data.stratified_subset(dataset.y_train, size, CALIBRATION_SEED)
    return dataset.x_train[chosen][..., None]


def _previous_entries(old: Manifest | None, source_sha256: str) -> dict[str, Entry]:
    """Entries of the old manifest for the same source whose files are still intact."""
    if old is None or old.source.get("sha256") != source_sha256:
        return {}
    return old.intact()


def _refuse_foreign_files(out_dir: Path, old: Manifest | None, asked: list[Format]) -> None:
    """Refuse to replace a file that the folder's manifest does not list as an fmnist artifact."""
    listed = {e.file for e in old.entries.values()} if old else set()
    listed |= {c for e in old.entries.values() for c in e.extra.get("companions", ())} if old else set()
    for name in (name for fmt in asked for name in (fmt.file, *fmt.companions)):
        if (out_dir / name).exists() and name not in listed:
            raise FmnistError(
                f"{out_dir / name} exists and is not an artifact of an fmnist export there; "
                "move it away or choose another --out"
            )


def _converter(fmt: Format) -> Callable[[Job], None]:
    module, function = fmt.converter.split(":")
    return getattr(importlib.import_module(module), function)


def export(
    model_path: Path,
    wanted: Iterable[str],
    out_dir: Path,
    options: ExportOptions = ExportOptions(),
    *,
    data_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    command: str | None = None,
) -> dict:
    """Export `model_path` to each format named in `wanted` into `out_dir`; return the manifest."""
    asked = formats.select(wanted)
    old = folders.manifest_or_none(out_dir)
    _refuse_foreign_files(out_dir, old, asked)
    dataset = data.load(data_dir)
    model = load_keras(model_path)
    source_sha256 = sha256_file(model_path)
    step = progress or (lambda description: None)

    step("reference: Keras float model on the test set")
    pixels = dataset.x_test[..., None]
    reference = model.predict(pixels, batch_size=1000, verbose=0)
    reference_accuracy = float((reference.argmax(1) == dataset.y_test).mean())
    chosen = golden.indices(dataset.y_test)
    calibration = None
    if any(f.calibrated for f in asked):
        calibration = calibration_images(dataset, options.calibration_size)

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".export-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    for stale in out_dir.glob(".manifest.*.json"):
        stale.unlink(missing_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        entries: dict[str, Entry] = {}
        golden_values: dict[str, folders.GoldenValues] = {}
        computed: dict[str, np.ndarray] = {}  # each verified artifact's logits on the test set
        for fmt in formats.build_order(asked):
            job = Job(
                model,
                staging / fmt.file,
                contract.metadata(source_sha256, fmt.precision),
                options,
                calibration if fmt.calibrates else None,
                staging / formats.FORMATS[fmt.source].file if fmt.source else None,
            )
            images = f" ({len(job.calibration)} calibration images)" if job.calibration is not None else ""
            step(f"{fmt.name}: {fmt.how}{images}")
            started = time.perf_counter()
            _converter(fmt)(job)
            seconds = time.perf_counter() - started
            if fmt not in asked:  # made only as the source of another format
                continue
            step(f"{fmt.name}: verify on {len(pixels):,} test images")
            limits = fmt.limits.overridden(options.limits)
            logits = run_artifact(job.target, pixels)
            source = None
            if fmt.source and limits.max_source_steps is not None:
                assert job.source is not None
                if fmt.source not in computed:
                    computed[fmt.source] = run_artifact(job.source, pixels)
                step_size = golden.output_step(fmt, job.target)
                source = against_source(logits, fmt.source, computed[fmt.source], step_size)
            computed[fmt.name] = logits
            verified = verify(job.target, logits, limits, reference, dataset.y_test, source)
            sha256 = sha256_file(job.target)
            entries[fmt.name] = record.entry(fmt, job.target, sha256, seconds, verified, limits, job)
            golden_values[fmt.name] = golden.values(fmt, job.target, sha256, logits[chosen])
        artifacts = {**_previous_entries(old, source_sha256), **entries}
        manifest = record.manifest(out_dir, model_path, source_sha256, reference_accuracy, artifacts, command)
        kept = golden.previous(out_dir, chosen, set(artifacts) - set(entries))
        for name in entries:  # every artifact passed: publish them, the golden vectors, then the manifest
            for file in (formats.FORMATS[name].file, *formats.FORMATS[name].companions):
                os.replace(staging / file, out_dir / file)
        images, labels = pixels[chosen], dataset.y_test[chosen]
        folders.write_golden(out_dir, folders.Golden(images, labels, chosen, {**kept, **golden_values}))
        folders.write_manifest(manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest.to_json()
