"""The files the stages hand each other, and what a user may name as a model.

A run folder (`fmnist train`) holds `model.keras` and `metrics.json`; an export folder (`fmnist
export`, by default the run's `export/`) holds the artifacts, `manifest.json` and `golden.npz`.
Every command that runs a model (`predict`, `evaluate`, `check`, `bench`, `serve`,
`Classifier.load`) takes the same things through `locate`: a run folder, an export folder, one
artifact file, or a format name of the shipped model. Importing this module imports numpy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract, formats
from fmnist.errors import FmnistError
from fmnist.files import atomic_path, sha256_file, write_json

MODEL = "model.keras"  # a run folder's trained model
METRICS = "metrics.json"  # how it was trained
EXPORT = "export"  # a run folder's export folder
MANIFEST = "manifest.json"  # an export folder's record of its artifacts
GOLDEN = contract.GOLDEN_FILE
SHIPPED = Path(__file__).with_name("runtime") / "default_model"
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # Keras model files, legacy HDF5 included
SOURCE_SUFFIXES = (*KERAS_SUFFIXES, ".onnx")  # the model files export takes


@dataclass(frozen=True)
class Entry:
    """One artifact of a manifest: the file, how it was made, and what its verification measured."""

    format: str  # the format's name, a key of `formats.FORMATS`
    file: str
    family: str  # a key of `formats.RUNTIMES`: what runs it
    precision: str
    bytes: int
    sha256: str
    verified: dict = field(default_factory=dict)  # accuracy, agreement, ... against the Keras model
    limits: dict = field(default_factory=dict)  # the limits it passed
    export_seconds: float | None = None
    extra: dict = field(default_factory=dict)  # what its runtime family or calibration adds (opset, ...)

    @classmethod
    def from_json(cls, name: str, record: dict) -> Entry:
        known = {"file", "family", "format", "precision", "bytes", "sha256", "verified", "limits", "export_seconds"}
        return cls(
            format=name,
            file=record["file"],
            family=record.get("family", record.get("format", "")),  # "format", in manifests before 0.3
            precision=record.get("precision", "unknown"),
            bytes=record.get("bytes", 0),
            sha256=record.get("sha256", ""),
            verified=record.get("verified", {}),
            limits=record.get("limits", {}),
            export_seconds=record.get("export_seconds"),
            extra={k: v for k, v in record.items() if k not in known},
        )

    def to_json(self) -> dict:
        record = {"file": self.file, "family": self.family, "precision": self.precision, "bytes": self.bytes}
        record |= {"sha256": self.sha256, "export_seconds": self.export_seconds}
        return record | {"verified": self.verified, "limits": self.limits, **self.extra}


@dataclass(frozen=True)
class Manifest:
    """An export folder's `manifest.json`: its artifacts by format name and what they were made from."""

    folder: Path
    entries: dict[str, Entry]
    header: dict  # the other top-level fields: contract, class_names, source, tools, command, ...

    @property
    def source(self) -> dict:
        """The Keras model the artifacts were made from: path, sha256, test_accuracy, training."""
        return self.header.get("source", {})

    def entry_for(self, path: Path, sha256: str) -> Entry | None:
        """The entry describing this very file (its name and its bytes), or None."""
        return next((e for e in self.entries.values() if e.file == path.name and e.sha256 == sha256), None)

    def intact(self) -> dict[str, Entry]:
        """The entries whose file is still there with the bytes the manifest lists."""
        return {
            name: entry
            for name, entry in self.entries.items()
            if (self.folder / entry.file).is_file() and sha256_file(self.folder / entry.file) == entry.sha256
        }

    def to_json(self) -> dict:
        artifacts = {name: self.entries[name].to_json() for name in formats.FORMATS if name in self.entries}
        return {**self.header, "artifacts": artifacts}


def read_manifest(folder: Path) -> Manifest:
    """The manifest of an export folder; a missing or unreadable one is an `FmnistError`."""
    path = folder / MANIFEST
    try:
        record = json.loads(path.read_text())
        entries = {name: Entry.from_json(name, entry) for name, entry in record["artifacts"].items()}
    except FileNotFoundError:
        raise FmnistError(f"{folder}: no {MANIFEST} here; run `fmnist export` first") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FmnistError(f"{path}: not an fmnist manifest ({type(exc).__name__}: {exc})") from None
    return Manifest(folder, entries, {k: v for k, v in record.items() if k != "artifacts"})


def manifest_or_none(folder: Path) -> Manifest | None:
    """The manifest of a folder, or None when it has none that can be read."""
    try:
        return read_manifest(folder)
    except FmnistError:
        return None


def write_manifest(manifest: Manifest) -> None:
    write_json(manifest.folder / MANIFEST, manifest.to_json())


@dataclass(frozen=True)
class GoldenValues:
    """What one artifact computed for the golden images at export, and how far another machine may stray."""

    logits: np.ndarray
    tolerance: float
    file: str
    sha256: str


@dataclass(frozen=True)
class Golden:
    """An export folder's `golden.npz`: a few test images per class and each artifact's logits for them."""

    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray  # in the test set
    artifacts: dict[str, GoldenValues]  # by format name


def _values(npz: Any, name: str) -> GoldenValues:
    return GoldenValues(
        npz[f"{name}.logits"], float(npz[f"{name}.tolerance"]), str(npz[f"{name}.file"]), str(npz[f"{name}.sha256"])
    )


def read_golden(folder: Path) -> Golden:
    path = folder / GOLDEN
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted({key.split(".")[0] for key in npz.files if key.endswith(".logits")})
            artifacts = {name: _values(npz, name) for name in names}
            return Golden(npz["images"], npz["labels"], npz["indices"], artifacts)
    except FileNotFoundError:
        raise FmnistError(f"{folder}: no {GOLDEN} here; export again with this fmnist to make one") from None
    except (OSError, ValueError, KeyError) as exc:
        raise FmnistError(f"{path}: not readable golden vectors ({exc})") from None


def write_golden(folder: Path, golden: Golden) -> None:
    """golden.npz, atomically; plain arrays only, so it loads with allow_pickle=False."""
    entries: dict[str, Any] = {}
    for name, values in golden.artifacts.items():
        entries[f"{name}.logits"] = values.logits.astype(np.float32)
        entries[f"{name}.tolerance"] = np.float32(values.tolerance)
        entries[f"{name}.file"] = np.str_(values.file)
        entries[f"{name}.sha256"] = np.str_(values.sha256)
    with atomic_path(folder / GOLDEN) as tmp, open(tmp, "wb") as file:
        np.savez(file, images=golden.images, labels=golden.labels, indices=golden.indices, **entries)


def _kinds() -> str:
    shipped = ", ".join(f.name for f in formats.FORMATS.values() if (SHIPPED / f.file).is_file())
    files = formats.suffixes()
    return f"name a run folder, an export folder, a {files} file, or a format of the shipped model ({shipped})"


@dataclass(frozen=True)
class Located:
    """The model a user named: its export folder and the artifacts meant."""

    folder: Path  # the export folder (for a loose file, the folder it is in)
    files: dict[str, Path]  # format name (a loose file of no known format: its file name) -> file, registry order
    manifest: Manifest | None
    keras: Path | None  # the run's trained model, when there is one
    chosen: bool  # the user named these artifacts (a file or a format), not a whole folder

    @property
    def shipped(self) -> bool:
        return self.folder.resolve() == SHIPPED.resolve()

    def runnable(self) -> Path:
        """The named artifact, or the folder's preferred one that an installed runtime can run; why none
        can, as an `FmnistError`."""
        if self.chosen:
            return next(iter(self.files.values()))
        ranked = sorted(self.files, key=lambda name: formats.FORMATS[name].preference)
        for name in ranked:
            if formats.installed(formats.FORMATS[name].family):
                return self.files[name]
        needed = dict.fromkeys(formats.RUNTIMES[formats.family_of(p)] for p in self.files.values())  # in order
        raise FmnistError(
            f"{self.folder}: no runtime installed for its models; "
            + " or ".join(f"pip install 'fmnist[{r.extra}]' ({r.name})" for r in needed)
        )


def _present(folder: Path) -> dict[str, Path]:
    """The artifacts of every format in a folder, in the registry's order."""
    return {f.name: folder / f.file for f in formats.FORMATS.values() if (folder / f.file).is_file()}


def _keras_of(export: Path, manifest: Manifest | None) -> Path | None:
    """The Keras model an export folder's artifacts were made from, when it is still there."""
    source = Path(manifest.source.get("path", "")) if manifest else Path()
    return next((p for p in (export.parent / MODEL, source) if p.suffix in KERAS_SUFFIXES and p.is_file()), None)


def locate(given: str | Path | None = None) -> Located:
    """What `given` names: None (the shipped model), a format name of the shipped model, an artifact
    file, an export folder, or a run folder (its export folder). Anything else is refused, naming
    what may be given."""
    if given is None or (str(given) in formats.FORMATS and not Path(given).exists()):
        present = _present(SHIPPED)
        if given is not None:
            if str(given) not in present:
                raise FmnistError(f"the shipped model has no {given} artifact; it has {', '.join(present)}")
            present = {str(given): present[str(given)]}
        return Located(SHIPPED, present, manifest_or_none(SHIPPED), None, given is not None)
    path = Path(given)
    if path.is_file():
        if path.suffix not in {r.suffix for r in formats.RUNTIMES.values()}:
            raise FmnistError(f"{given}: not a model file; {_kinds()}")
        manifest = manifest_or_none(path.parent)
        fmt = next((f for f in formats.FORMATS.values() if f.file == path.name), None)
        return Located(path.parent, {fmt.name if fmt else path.name: path}, manifest, None, True)
    if not path.is_dir():
        raise FmnistError(f"{given}: no such file or folder; {_kinds()}")
    export = path / EXPORT if (path / EXPORT).is_dir() and not _present(path) else path
    present = _present(export)
    if not present and (path / MODEL).is_file():
        raise FmnistError(f"{given}: a trained run not exported yet; run `fmnist export {given}` first")
    if not present:
        where = f"here or in {export}" if export != path else "in this folder"
        raise FmnistError(f"{given}: no model file {where}; {_kinds()}")
    manifest = manifest_or_none(export)
    return Located(export, present, manifest, _keras_of(export, manifest), False)


def run_model(run: Path, option: str | None = None) -> Path:
    """A finished run folder's trained model; the error names the `option` that gave the folder."""
    if not (run / MODEL).is_file():
        given = f"{option} {run}" if option else str(run)
        raise FmnistError(f"{given} has no {MODEL}; is it a finished `fmnist train` run?")
    return run / MODEL


def trained_model(given: Path | None, runs_dir: Path = Path("runs")) -> Path:
    """The model to export: a run folder's, a model file (`SOURCE_SUFFIXES`; TensorFlow's own files,
    which export refuses with how to re-save them), or (None) the newest run's."""
    if given is None:
        models = sorted(runs_dir.glob(f"*/{MODEL}"), key=lambda p: p.stat().st_mtime)
        if not models:
            raise FmnistError(f"no trained model under {runs_dir}/; run `fmnist train` or name a model")
        return models[-1]
    if given.is_dir():
        return given if (given / "saved_model.pb").is_file() else run_model(given)
    if not given.exists():
        raise FmnistError(f"{given}: no such file or folder")
    if given.suffix not in (*SOURCE_SUFFIXES, ".pb"):
        raise FmnistError(f"{given}: not a model export takes (a .keras, .h5 or .onnx file, or a run folder)")
    return given


def export_folder(source: Path) -> Path:
    """Where the artifacts of a source go by default: a run's export/, else `<name>-export/` beside the file."""
    if source.is_dir():
        return source
    if source.name == MODEL:
        return source.parent / EXPORT
    return source.parent / f"{source.stem}-export"


def export_source(given: Path | None, runs_dir: Path = Path("runs")) -> Path:
    """What `fmnist export` makes formats from: an export folder without its Keras model (one
    holding a manifest and no model.keras, such as the shipped model's), else `trained_model`."""
    if given is not None and (given / MANIFEST).is_file() and not (given / MODEL).exists():
        return given
    return trained_model(given, runs_dir)


def newest_export(runs_dir: Path) -> Path | None:
    """The export folder of the run whose manifest was written last, or None."""
    manifests = sorted(runs_dir.glob(f"*/{EXPORT}/{MANIFEST}"), key=lambda p: p.stat().st_mtime)
    return manifests[-1].parent if manifests else None


def run_metrics(run: Path) -> dict:
    """A run folder's metrics.json, or {} when it has none that can be read."""
    try:
        return json.loads((run / METRICS).read_text())
    except (OSError, ValueError):
        return {}
