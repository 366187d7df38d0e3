"""What a measurement ran on: CPU model, cores, OS, Python and package versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "pillow", "onnxruntime", "ai-edge-litert", "tflite-runtime", "tensorflow", "keras")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict:
    """The machine and the versions of the installed packages that matter for speed."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
        "os": platform.platform(), "python": platform.python_version(), "packages": versions,
    }
