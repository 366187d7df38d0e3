"""What is emulated: the Raspberry Pi OS userland, its Python, the Pi's cores; shared helpers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE, PYTHON, GLIBC = "bookworm", "3.11", (2, 36)  # 64-bit Raspberry Pi OS 12
PACKAGES = "python3,libstdc++6"
MIRROR = os.environ.get("PI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
EXTRAS = "tflite,onnx,serve"
FORBIDDEN = {"tensorflow", "keras", "tf_keras", "tf2onnx"}
BROKEN_ONNXRUNTIME = "1.21.0"  # "Illegal instruction" on a Pi 4; the onnx extra excludes it too
CPUS = {  # QEMU_CPU: (/proc/cpuinfo "CPU part", features, board)
    "cortex-a72": ("0xd08", "fp asimd evtstrm crc32 cpuid", "Raspberry Pi 4 Model B, emulated by qemu"),
    "cortex-a76": (
        "0xd0b",
        "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp",
        "Raspberry Pi 5 Model B, emulated by qemu",
    ),
}


class CheckFailed(Exception):
    """A step that could not run at all (the comparisons collect their problems instead)."""


def run_checked(argv: list, **kwargs: Any) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise CheckFailed(
            f"{' '.join(map(str, argv[:4]))} … failed ({result.returncode}):\n{result.stderr.strip()[-3000:]}"
        )
    return result


def cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
