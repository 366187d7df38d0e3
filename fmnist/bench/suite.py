"""`fmnist bench`: every artifact (and the Keras float model when TensorFlow is installed)
measured the same way: size, accuracy against the float model, latency, throughput, cold
start and memory of a fresh process."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist.bench import measure
from fmnist.bench.process import run_fresh
from fmnist.errors import FmnistError
from fmnist.runtime.classifier import ARTIFACTS, DEFAULT_MODEL_DIR, Classifier

KERAS_ROWS = ("keras-predict", "keras-call")  # model.predict on one image, as the seeds do; a direct call
ORDER = ["keras-predict", "keras-call", "onnx", "onnx-int8", "tflite", "tflite-int8"]

# A fresh process: import, load, first inference on one image; then its architecture (an
# emulator's child may run the host's binary) and its own peak RSS (VmHWM: a forked child's
# rusage would also count the parent's pages from before exec).
_REPORT = ("\nimport pathlib, platform\nstatus = pathlib.Path('/proc/self/status')\nprint('machine', platform.machine())\n"
           "print('peak_kb', status.read_text().split('VmHWM:')[1].split()[0] if status.exists() else '')")
COLD_START = {
    "runtime": "import sys, numpy as np\nfrom fmnist.runtime import Classifier\n"
               "Classifier(sys.argv[1], int(sys.argv[2]) or None).predict(np.zeros((1, 28, 28), np.uint8))" + _REPORT,
    "keras-predict": "import sys, numpy as np, keras\nm = keras.models.load_model(sys.argv[1], compile=False)\n"
                     "m.predict(np.zeros((1, 28, 28, 1), np.uint8), verbose=0)" + _REPORT,
    "keras-call": "import sys, numpy as np, keras\nm = keras.models.load_model(sys.argv[1], compile=False)\n"
                  "m(np.zeros((1, 28, 28, 1), np.uint8), training=False)" + _REPORT,
}


@dataclass
class Group:
    """The artifacts of one model: an export folder or loose files, and its Keras source."""

    name: str
    artifacts: dict[str, Path]  # format name -> file
    keras: Path | None = None
    macs: int | None = None


def _format_of(path: Path) -> str:
    for name, file in ARTIFACTS.items():
        if path.name == file:
            return name
    if path.suffix not in (".onnx", ".tflite"):
        raise FmnistError(f"{path}: not a benchmarkable file; expected .onnx, .tflite or .keras")
    return ("tflite" if path.suffix == ".tflite" else "onnx") + ("-int8" if ".int8." in path.name else "")


def _from_folder(folder: Path) -> Group:
    export = folder / "export" if (folder / "export" / "manifest.json").is_file() else folder
    manifest_path = export / "manifest.json"
    if not manifest_path.is_file():
        raise FmnistError(f"{folder}: no manifest.json here or in {folder / 'export'}; run `fmnist export` first")
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["artifacts"]
    except (ValueError, KeyError) as exc:
        raise FmnistError(f"{manifest_path}: not an fmnist manifest ({exc})") from None
    artifacts = {name: export / e["file"] for name, e in entries.items() if (export / e["file"]).is_file()}
    keras_path = next((p for p in (export.parent / "model.keras", Path(manifest.get("source", {}).get("path", "")))
                       if p.suffix == ".keras" and p.is_file()), None)
    name = "default" if export.resolve() == DEFAULT_MODEL_DIR.resolve() else (
        export.parent.name if export.name == "export" else export.name)
    macs = manifest.get("source", {}).get("training", {}).get("macs")
    return Group(name, artifacts, keras_path, macs)


def resolve_targets(targets: list[Path], runs_dir: Path = Path("runs")) -> list[Group]:
    """Groups to measure: run or export folders, loose files; default the newest run's export,
    else the shipped model."""
    if not targets:
        exports = sorted(runs_dir.glob("*/export/manifest.json"), key=lambda p: p.stat().st_mtime)
        return [_from_folder(exports[-1].parent if exports else DEFAULT_MODEL_DIR)]
    groups, loose = [], Group("files", {})
    for target in targets:
        if target.is_dir():
            groups.append(_from_folder(target))
        elif not target.is_file():
            raise FmnistError(f"{target}: no such file or folder")
        elif target.suffix == ".keras":
            loose.keras = target
        else:
            loose.artifacts[f"{target.stem}:{_format_of(target)}"] = target
    if loose.artifacts or loose.keras:
        groups.append(loose)
    return groups


@dataclass(frozen=True)
class Settings:
    threads: tuple[int, ...] = (1, 2)
    batches: tuple[int, ...] = (1, 32, 256)
    budget: measure.Budget = measure.Budget()
    cold_starts: int = 5
    keras: bool = True
    images: int | None = None  # accuracy on the first N test images; None: all


QUICK = Settings(threads=(1,), batches=(1, 32), budget=measure.Budget(200, 10, 2.0), cold_starts=1)


def _reported(run) -> dict[str, str]:
    """What a cold-start child printed last (_REPORT): its machine and peak_kb."""
    return dict(line.split(" ", 1) for line in run.stdout.splitlines() if line.startswith(("machine ", "peak_kb ")))


def _peak_mb(run) -> float:
    reported = _reported(run).get("peak_kb", "")
    return int(reported) / 1024 if reported.isdigit() else run.peak_rss_mb


def _cold_start(kind: str, path: Path, threads: int, runs: int) -> tuple[float | None, float | None]:
    """Median wall ms and peak RSS MB of `runs` fresh processes (None when skipped); a child
    that fails or runs on another architecture is an error."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        results = [run_fresh([sys.executable, "-c", COLD_START[kind], str(path), str(threads)], env)
                   for _ in range(runs)]
    except OSError as exc:
        raise FmnistError(f"cold start: cannot start {sys.executable} ({exc.strerror or exc}); "
                          "under an emulator, pass --cold-starts 0") from None
    if not results:
        return None, None
    failed = next((r for r in results if r.returncode), None)
    if failed:
        raise FmnistError(f"cold start of {path.name} failed ({failed.returncode}): "
                          f"{(failed.stderr.strip().splitlines() or ['no output'])[-1]}; --cold-starts 0 skips it")
    started = {_reported(r).get("machine", "an unknown machine") for r in results}
    if started != {platform.machine()}:
        raise FmnistError(f"cold start: {sys.executable} ran as {', '.join(sorted(started))}, not "
                          f"{platform.machine()} (an emulator's child runs the host's binary); pass --cold-starts 0")
    return (round(statistics.median(1000 * r.seconds for r in results), 1),
            round(statistics.median(_peak_mb(r) for r in results), 1))


def _keras_functions(path: Path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    return {
        "keras-predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
        "keras-call": lambda x: np.asarray(model(x, training=False)),
    }


def _plan(groups: list[Group], settings: Settings, notes: list[str]) -> list[tuple]:
    """(group, row name, file, inference function, threads, precision) for every row."""
    has_tf = importlib.util.find_spec("tensorflow") is not None
    plan = []
    for group in groups:
        if group.keras and settings.keras and has_tf:
            for name, fn in _keras_functions(group.keras).items():
                plan.append((group, name, group.keras, fn, 0, "float32"))
        elif group.keras and settings.keras:
            notes.append(f"{group.name}: Keras rows skipped: TensorFlow is not installed (pip install 'fmnist[train]')")
        by_format = sorted(group.artifacts.items(), key=lambda kv: ORDER.index(kv[0].split(":")[-1]))
        for name, path in by_format:
            for threads in settings.threads:
                classifier = Classifier(path, threads)
                plan.append((group, name, path, classifier.logits, threads, classifier.precision))
    return plan


def run(groups: list[Group], pixels: np.ndarray, labels: np.ndarray, settings: Settings, progress=None) -> dict:
    """Measure every artifact of every group at every thread setting; return the report."""
    notes: list[str] = []
    plan = _plan(groups, settings, notes)
    task = progress.add_task("measuring", total=len(plan) * (3 + len(settings.batches))) if progress else None

    def step(description: str) -> None:
        if progress:
            progress.update(task, description=description, advance=1)

    rows, predictions, references = [], {}, {}
    scored, labels = pixels[:settings.images], labels[:settings.images]
    for group, name, path, fn, threads, precision in plan:
        label = f"{group.name}/{name} ({threads or 'auto'} threads)"
        step(f"{label}: accuracy")
        if path not in predictions:
            predictions[path] = np.concatenate([fn(scored[i:i + 1000]) for i in range(0, len(scored), 1000)]).argmax(1)
        predicted = predictions[path]
        if group.name not in references and precision == "float32":
            references[group.name] = (name, predicted)
        reference_name, reference = references.get(group.name, (None, None))
        step(f"{label}: batch-1 latency")
        lat = measure.latency(fn, pixels, settings.budget)
        speed = {}
        for batch in settings.batches:
            step(f"{label}: throughput at batch {batch}")
            speed[str(batch)] = measure.throughput(fn, pixels, batch, settings.budget)
        step(f"{label}: cold start")
        cold_ms, rss = _cold_start(name if name in KERAS_ROWS else "runtime", path, threads, settings.cold_starts)
        accuracy = float((predicted == labels).mean())
        rows.append({
            "artifact": f"{group.name}/{name}", "file": str(path),
            "format": name.split(":")[-1].removesuffix("-int8"), "precision": precision,
            "threads": threads, "bytes": path.stat().st_size, "accuracy": accuracy,
            "reference": reference_name,
            "delta_accuracy": None if reference is None else accuracy - float((reference == labels).mean()),
            "agreement": None if reference is None else float((predicted == reference).mean()),
            "latency_us": lat, "throughput": speed, "cold_start_ms": cold_ms, "peak_rss_mb": rss,
            "macs": group.macs,
            "gmacs": None if not group.macs else round(group.macs * max(speed.values()) / 1e9, 2),
        })
    return {"rows": rows, "notes": notes}
