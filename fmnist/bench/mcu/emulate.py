"""The same images through the host build and the firmware under qemu, side by side."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fmnist.bench.mcu.target import ICOUNT, QEMU, figures, run_checked
from fmnist.errors import FmnistError

SECONDS_PER_IMAGE = 0.1  # qemu's limit; an inference takes about 15 ms of emulation on a 2020s x86 core


def run(work: Path, elf: Path, binary: Path, images: bytes) -> dict:
    """Both runs' figures and logits (10 bytes an image); qemu's wall time in seconds."""
    (work / "images.bin").write_bytes(images)  # main.c's file names on the firmware
    for name in ("logits.bin", "host-logits.bin"):
        (work / name).unlink(missing_ok=True)
    count = len(images) // 784
    limit = 30 + SECONDS_PER_IMAGE * count
    started = time.perf_counter()
    with subprocess.Popen(
        [*QEMU, *ICOUNT, "-kernel", str(elf)], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as qemu:
        native = figures(run_checked([binary, work / "images.bin", work / "host-logits.bin"]).stdout)
        try:
            out, err = qemu.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            qemu.kill()
            raise FmnistError(f"qemu ran past {limit:.0f} s on {count} images") from None
        seconds = time.perf_counter() - started
    if qemu.returncode or not (work / "logits.bin").is_file():
        raise FmnistError(f"the firmware failed (qemu exit {qemu.returncode}): {(err or out).strip()[-2000:]}")
    emulated = figures(out)
    if emulated.get("images") != count or native.get("images") != count:
        raise FmnistError(
            f"{count} images given; the firmware read {emulated.get('images')}, the host {native.get('images')}"
        )
    return {
        "native": native,
        "emulated": emulated,
        "native_logits": (work / "host-logits.bin").read_bytes(),
        "emulated_logits": (work / "logits.bin").read_bytes(),
        "qemu_seconds": seconds,
    }
