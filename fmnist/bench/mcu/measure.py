"""The microcontroller table of one export folder: a row for each of its tflm and c artifacts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fmnist import folders, formats, machine
from fmnist.bench.mcu import board, target
from fmnist.errors import FmnistError
from fmnist.runtime.backends import open_backend

FORMATS = ("tflm", "c")


def run(
    folder: Path,
    x_test: np.ndarray,
    y_test: np.ndarray,
    work: Path,
    step: Callable[[str], None],
    command: str | None = None,
    board_images: int = 1000,
    accuracy_images: int | None = None,
) -> dict:
    """The report: its rows, the board's measurements of the C engine on the first `board_images`
    test images (None without the tools), accuracy on the first `accuracy_images` (None: all) and
    notes; "problems" lists what failed on the board."""
    started = time.perf_counter()
    manifest = folders.read_manifest(folder)
    intact = manifest.intact()
    present = [name for name in FORMATS if name in intact]
    if not present:
        raise FmnistError(
            f"{folder} has no intact tflm or c artifact; make them with `fmnist export {folder} --format tflm,c`"
        )
    notes = []
    missing = target.missing_tools()
    measured = None
    if "c" in present and missing:
        notes.append(f"the C engine was not run on the emulated board: no {', '.join(missing)} ({target.INSTALL})")
    elif "c" in present:
        engine = folder / intact["c"].file
        measured = board.run(engine, work, x_test[:board_images], y_test[:board_images], step)
    rows = []
    x_test, y_test = x_test[:accuracy_images], y_test[:accuracy_images]
    for name in present:
        entry = intact[name]
        accuracy = None
        if reason := formats.not_installed(folder / entry.file):
            notes.append(f"{name}: accuracy not measured here: {reason}")
        else:
            step(f"{name}: accuracy on {len(x_test):,} test images on this machine")
            predicted = open_backend(folder / entry.file)(x_test[..., None]).argmax(axis=1)
            accuracy = float((predicted == y_test).mean())
        rows.append(_tflm_row(entry, accuracy) if name == "tflm" else _c_row(entry, accuracy, measured))
    return {
        "model": str(folder),
        "source_sha256": manifest.source.get("sha256"),
        "rows": rows,
        "board": measured,
        "accuracy_images": len(x_test),
        "machine": machine.describe(),
        "command": command,
        "notes": notes,
        "problems": measured["problems"] if measured else [],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _tflm_row(entry: folders.Entry, accuracy: float | None) -> dict:
    return {
        "format": "tflm",
        "runs_with": "TFLite Micro",
        "flash_bytes": entry.extra["flash_bytes"],
        "flash_counts": "the model array; TFLite Micro's code not counted",
        "ram_bytes": entry.extra["arena_bytes"],
        "ram_counts": f"the tensor arena ({entry.extra['arena_measured_bytes']:,} B measured on x86-64, "
        "with its margin); TFLite Micro's own state and stack not counted",
        "instructions_per_inference": None,
        "instructions_counts": "not measured (TFLite Micro is not built here)",
        "accuracy": accuracy,
    }


def _c_row(entry: folders.Entry, accuracy: float | None, measured: dict | None) -> dict:
    row = {"format": "c", "runs_with": "no library", "accuracy": accuracy}
    if measured is None:
        return row | {
            "flash_bytes": entry.extra["flash_bytes"],
            "flash_counts": "its constant tables, read from the source; the code not counted (not compiled)",
            "ram_bytes": entry.extra["ram_bytes"],
            "ram_counts": "its activation buffer, read from the source; the stack not counted",
            "instructions_per_inference": None,
            "instructions_counts": "not measured (no emulated board here)",
        }
    engine = measured["engine"]
    return row | {
        "flash_bytes": engine["flash"]["total"],
        "flash_counts": ".text + .rodata of the engine built for the Cortex-M4F",
        "ram_bytes": engine["ram"]["total"],
        "ram_counts": f".data + .bss + the stack it reached ({engine['ram']['stack']} B), on the Cortex-M4F",
        "instructions_per_inference": measured["instructions_per_inference"]["mean"],
        "instructions_counts": f"emulated (qemu {target.BOARD}, -icount: instructions, not cycles), "
        f"the mean of {measured['images']:,} images",
    }
