"""What a measurement ran on: CPU model, cores, OS, Python and package versions."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "pillow", "onnxruntime", "ai-edge-litert", "tflite-runtime", "tensorflow", "jax", "keras")


# Arm CPU part numbers (/proc/cpuinfo "CPU part") of the boards fmnist targets and their kin.
ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1",
    "0xd40": "Neoverse-V1",
    "0xd4f": "Neoverse-V2",
}


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """x86: the "model name". Arm: the board ("Raspberry Pi 4 Model B Rev 1.4") and its cores."""
    try:
        fields = [line.split(":", 1) for line in cpuinfo.read_text().splitlines() if ":" in line]
    except OSError:
        fields = []
    info = {key.strip(): value.strip() for key, value in reversed(fields)}  # the first occurrence wins
    if "model name" in info and not info["model name"].startswith("ARMv"):  # 32-bit Arm kernels: "ARMv7 ..."
        return info["model name"]
    core = ARM_PARTS.get(info.get("CPU part", "").lower(), "")
    if "Model" in info:
        return f"{info['Model']} ({core})" if core else info["Model"]
    return core or platform.processor() or platform.machine()


def describe() -> dict:
    """The machine and the versions of the installed packages that matter for speed."""
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
    }
