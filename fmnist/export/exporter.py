"""`fmnist export`: convert, calibrate and verify each format, then publish all at once.

Formats are made from a source model (`fmnist.export.sources`: an fmnist run's, a user's Keras
file, or a user's ONNX file, which makes the ONNX formats only), or from the artifacts of an
export folder (onnx-int8 from its float ONNX model, the microcontroller formats from its int8
TFLite model: what a folder without its Keras model, such as the shipped one, can still gain).
Every artifact is verified against the source model as the user gave it, run by its own
framework. Artifacts are built
and verified in a hidden staging folder inside the output folder; only when every requested
artifact has passed its limits are they renamed into place, followed by `manifest.json`. A
failed or killed export leaves the previous artifacts and manifest as they were. What each
format is, how it is made and how far it may stray from the Keras model comes from the format
registry (`fmnist.formats`).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from fmnist import contract, data, folders, formats
from fmnist.adapters import scaling
from fmnist.errors import FmnistError, VerificationError
from fmnist.export import golden, record
from fmnist.export.options import CALIBRATION_SEED, ExportOptions, Job
from fmnist.export.sources import Source, open_source
from fmnist.export.validate import against_source, run_artifact, verify
from fmnist.files import sha256_file
from fmnist.folders import Entry, Manifest
from fmnist.formats import Format

HINT_IMAGES = 1000  # test images each other scaling is tried on, when one may fit the model better


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


def _reused(base: Manifest, asked: list[Format]) -> dict[str, Path]:
    """The artifacts of an export folder that the asked formats are made from, by format name;
    refuses a format that only the Keras model can make."""
    intact = base.intact()
    reused = {}
    for fmt in formats.build_order(asked):
        if fmt not in asked and fmt.name in intact:
            reused[fmt.name] = base.folder / intact[fmt.name].file
        elif fmt.source is None and fmt in asked:
            made = ", ".join(f.name for f in formats.FORMATS.values() if f.source)
            raise FmnistError(
                f"{fmt.name} is made from the Keras model, which {base.folder} does not hold (an export folder "
                f"can make {made}); export it from the run folder or the .keras file"
            )
        elif fmt.source is None:
            raise FmnistError(
                f"{base.folder} has no intact {fmt.name} artifact to make {', '.join(f.name for f in asked)} from, "
                "and only the Keras model makes one; export from the run folder or the .keras file"
            )
    return reused


def _float_reference(base: Manifest) -> tuple[str, Path]:
    """The export folder's float artifact that an installed runtime runs: the Keras model's stand-in."""
    for name, entry in base.intact().items():
        if entry.precision == "float32" and formats.installed(entry.family):
            return name, base.folder / entry.file
    raise FmnistError(
        f"{base.folder}: no float artifact (onnx or tflite) that an installed runtime runs, to verify against"
    )


def _converter(fmt: Format, source: Source | None = None) -> Callable[[Job], None]:
    """The function that makes `fmt`: from an ONNX source, its `onnx_converter`."""
    named = fmt.onnx_converter if source is not None and source.family == "onnx" and not fmt.source else fmt.converter
    assert named is not None  # _asked refused the formats an ONNX source cannot make
    module, function = named.split(":")
    return getattr(importlib.import_module(module), function)


def _asked(wanted: Iterable[str], source: Source | None) -> list[Format]:
    """The formats named in `wanted`, "all" meaning those the source can make; a format the source's
    kind of model cannot make (an ONNX model makes no TFLite) is refused."""
    onnx = source is not None and source.family == "onnx"
    asked = formats.select(wanted, formats.made_from_onnx if onnx else None)
    refused = [f.name for f in asked if onnx and not formats.made_from_onnx(f)]
    if source is not None and refused:
        made = ", ".join(f.name for f in formats.FORMATS.values() if formats.made_from_onnx(f))
        raise FmnistError(
            f"{source.path}: an ONNX model makes {made}; {', '.join(refused)} "
            f"{'is' if len(refused) == 1 else 'are'} made from a Keras model (export that instead)"
        )
    return asked


def _against_its_source(
    fmt: Format, job: Job, logits: np.ndarray, limits: formats.Limits, computed: dict, pixels: np.ndarray
) -> dict | None:
    """How far an artifact is from the format it is made from, where a limit says how far it may be;
    the source's logits are computed once (`computed`)."""
    if not fmt.source or limits.max_source_steps is None:
        return None
    assert job.source is not None
    if fmt.source not in computed:
        computed[fmt.source] = run_artifact(job.source, pixels)
    return against_source(logits, fmt.source, computed[fmt.source], golden.output_step(fmt, job.target))


def _folder_reference(base: Manifest, pixels: np.ndarray, step: Callable[[str], None]) -> tuple[str, np.ndarray]:
    """The export folder's float artifact that stands in for its Keras model, and its logits."""
    name, path = _float_reference(base)
    step(f"reference: {name}, the Keras model's verified stand-in, on the test set")
    return name, run_artifact(path, pixels)


def _source_reference(
    source: Source, pixels: np.ndarray, labels: np.ndarray, step: Callable[[str], None], notice: Callable[[str], None]
) -> tuple[np.ndarray, dict]:
    """The logits every artifact is verified against, and what checking the adapters measured.

    What was assumed of the model's input and output is said first (`notice`). A model ending in
    logits is its own reference, run as given. Where the head is taken off, the adapted model's
    logits through that head must give the model's own outputs (to 1e-4), else nothing is exported."""
    for line in source.adapters.lines():
        notice(line)
    if source.kind == "fmnist":
        step("reference: Keras float model on the test set")
    else:
        step(f"reference: your {'ONNX' if source.family == 'onnx' else 'Keras'} model as given, "
             f"in {source.runs_in}, on the test set")  # fmt: skip
    outputs = source.outputs(pixels)
    _hint_scaling(source, outputs, pixels, labels, notice)
    if source.adapters.head == "logits":
        return outputs, {}
    step(f"adapters: the {source.adapters.head.replace('_', ' ')} taken off, checked against the model as given")
    logits = source.logits(pixels)
    delta = float(np.abs(source.adapters.apply_head(logits) - outputs).max())
    if delta > 1e-4:
        raise VerificationError(
            f"{source.path}: adapted to uint8 pixels in and logits out, its outputs move by up to {delta:.2g} "
            "(limit 1e-4); it cannot be exported as it is"
        )
    return logits, {"adapters_max_output_delta": delta}


def _hint_scaling(
    source: Source, outputs: np.ndarray, pixels: np.ndarray, labels: np.ndarray, notice: Callable[[str], None]
) -> None:
    """Say so when another of the usual scalings makes the model far more accurate than the assumed one."""
    assumed = source.adapters.scaling
    if assumed is None:  # the model takes the contract's uint8 pixels
        return
    first = slice(0, HINT_IMAGES)
    accuracy = float((outputs[first].argmax(1) == labels[first]).mean())
    tried = {}
    for name in ("unit", "raw", "standard"):
        if scaling(name) != assumed:
            other = source.outputs_with(replace(source.adapters, scaling=scaling(name)), pixels[first])
            tried[name] = float((other.argmax(1) == labels[first]).mean())
    best = max(tried, key=tried.__getitem__)
    if tried[best] > accuracy + 0.1:
        notice(
            f"warning: with --scaling {best} the model scores {tried[best]:.1%} on the first {HINT_IMAGES:,} test "
            f"images, against {accuracy:.1%} with {assumed.name}: was it trained on {scaling(best).describe()}?"
        )


def export(
    given: Path,
    wanted: Iterable[str],
    out_dir: Path,
    options: ExportOptions = ExportOptions(),
    *,
    data_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    notice: Callable[[str], None] | None = None,
    command: str | None = None,
) -> dict:
    """Export `given` (a .keras, .h5 or .onnx file, or an export folder) to each format named in `wanted`
    into `out_dir`; return the manifest. `progress` is told each stage, `notice` what was assumed of the
    model's input and output."""
    base = folders.read_manifest(given) if given.is_dir() and (given / folders.MANIFEST).is_file() else None
    source = None if base else open_source(given, scaling(options.scaling))
    asked = _asked(wanted, source)
    reused = _reused(base, asked) if base else {}
    old = folders.manifest_or_none(out_dir)
    _refuse_foreign_files(out_dir, old, asked)
    dataset = data.load(data_dir)
    pixels = dataset.x_test[..., None]
    step = progress or (lambda description: None)
    if source is not None:
        model, source_sha256, reference_name = source.model, source.sha256, source.family
        reference, adapted = _source_reference(source, pixels, dataset.y_test, step, notice or step)
    else:
        assert base is not None  # what is not a source model is an export folder
        model, adapted, source_sha256 = None, {}, base.source.get("sha256", "")
        reference_name, reference = _folder_reference(base, pixels, step)
    reference_accuracy = float((reference.argmax(1) == dataset.y_test).mean())  # a head keeps the argmax
    chosen = golden.indices(dataset.y_test)
    to_build = [f for f in formats.build_order(asked) if f.name not in reused]
    calibration = None
    if any(f.calibrates for f in to_build):
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
        files = {**reused, **{f.name: staging / f.file for f in to_build}}
        for fmt in to_build:
            job = Job(
                model,
                files[fmt.name],
                contract.metadata(source_sha256, fmt.precision),
                options,
                calibration if fmt.calibrates else None,
                files[fmt.source] if fmt.source else None,
            )
            images = f" ({len(job.calibration)} calibration images)" if job.calibration is not None else ""
            how = fmt.how if source is None or source.family != "onnx" or fmt.source else "adapted, with metadata"
            step(f"{fmt.name}: {how}{images}")
            started = time.perf_counter()
            _converter(fmt, source)(job)
            seconds = time.perf_counter() - started
            if fmt not in asked:  # made only as the source of another format
                continue
            step(f"{fmt.name}: verify on {len(pixels):,} test images")
            limits = fmt.limits.overridden(options.limits)
            logits = run_artifact(job.target, pixels)
            compared = _against_its_source(fmt, job, logits, limits, computed, pixels)
            computed[fmt.name] = logits
            against = "the ONNX model" if reference_name == "onnx" else "the Keras model"
            verified = verify(job.target, logits, limits, reference, dataset.y_test, compared, against)
            verified["reference"] = reference_name
            sha256 = sha256_file(job.target)
            entries[fmt.name] = record.entry(fmt, job.target, sha256, seconds, verified, limits, job)
            golden_values[fmt.name] = golden.values(fmt, job.target, sha256, logits[chosen])
        artifacts = {**_previous_entries(old, source_sha256), **entries}
        if source is not None:
            described = {**source.to_json(), **adapted}
            manifest = record.manifest(out_dir, described, reference_accuracy, artifacts, command)
        else:
            assert base is not None
            manifest = record.extended(base, out_dir, artifacts, command)
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
