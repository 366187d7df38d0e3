"""The C engine on the emulated board: built both ways, the same images through both, compared, measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fmnist.bench.mcu import build, emulate
from fmnist.bench.mcu.target import BOARD, CPU, ICOUNT, OPTIMISE, QEMU, TIMER_HZ, version


def run(engine: Path, work: Path, images: np.ndarray, labels: np.ndarray, step: Callable[[str], None]) -> dict:
    """What the board measured of `engine` (an exported fmnist_model.c) on `images`; its "problems"
    are empty when the engine compiled without a warning and every logit matched the host's."""
    started = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    build.engine(engine, work)
    step("C engine: compile for the Cortex-M4F (arm-none-eabi-gcc) and the host (cc)")
    problems = build.warnings(work)
    elf, engine_object = build.firmware(work)
    binary = build.host(work)
    step(f"C engine: the first {len(images):,} test images on the host and under qemu {BOARD} (-icount shift=0)")
    runs = emulate.run(work, elf, binary, images.tobytes())
    native, emulated = (np.frombuffer(runs[f"{s}_logits"], np.int8).reshape(-1, 10) for s in ("native", "emulated"))
    differing = [int(i) for i in np.flatnonzero((native != emulated).any(axis=1))]
    if differing or native.shape != emulated.shape:
        problems.append(f"{len(differing)} of {len(images)} images get other logits on the Cortex-M4: {differing[:20]}")
    figures = runs["emulated"]
    per_tick = figures["calibration_instructions"] / figures["calibration_ticks"]
    if per_tick != 1e9 / TIMER_HZ:
        problems.append(f"{per_tick:g} instructions a timer tick, not {1e9 / TIMER_HZ:g}: is -icount shift=0 in force?")
    return {
        "target": f"Cortex-M4F (qemu {BOARD}, system emulation, {' '.join(ICOUNT)})",
        "images": len(images),
        "selection": "the first test images",
        "logits_identical": not differing,
        "differing_images": differing,
        "accuracy": float((emulated.argmax(axis=1) == labels).mean()),
        "instructions_per_inference": {
            "mean": round(figures["ticks"] * per_tick / len(images)),
            "min": round(figures["fastest"] * per_tick),
            "max": round(figures["slowest"] * per_tick),
            "per_timer_tick": per_tick,  # 1e9 / TIMER_HZ under -icount shift=0 (a calibration loop checks it)
            "note": "emulated, instructions not cycles: qemu -icount shift=0 counts one instruction a virtual ns",
        },
        "engine": build.footprint(build.sections(engine_object), int(figures["engine_stack"])),
        "firmware": {
            **build.footprint(build.sections(elf), int(figures["stack"])),
            "stack_reserved": int(figures["stack_size"]),
            "note": "main.c, startup.c, the engine and newlib with semihosting; its heap (the images) not counted",
        },
        "host_engine_us_per_inference": round(runs["native"]["seconds"] * 1e6 / len(images), 1),
        "emulation": {
            "qemu_seconds": round(runs["qemu_seconds"], 1),
            "emulated_mips": round(figures["ticks"] * per_tick / runs["qemu_seconds"] / 1e6),
        },
        "flags": [*CPU, *OPTIMISE],
        "command": " ".join([*QEMU, *ICOUNT, "-kernel", "fw.elf"]),
        "versions": {tool: version(tool) for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "cc")},
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 1),
    }
