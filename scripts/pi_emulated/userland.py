"""The arm64 Debian userland (mmdebstrap), a Raspberry Pi's /proc/cpuinfo, and qemu-user."""

from __future__ import annotations

import shutil
from pathlib import Path

from pi_emulated.target import CPUS, MIRROR, PACKAGES, PYTHON, SUITE, CheckFailed, cache_key, run_checked


def build_sysroot(cache: Path) -> Path:
    """The arm64 userland, unpacked only (nothing runs during the build); built once."""
    root = cache / f"{SUITE}-arm64-{cache_key(PACKAGES, MIRROR)}"
    if (root / f"usr/bin/python{PYTHON}").is_file():
        return root
    staging = cache / f".{root.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    run_checked(
        ["mmdebstrap", "--quiet", "--arch=arm64", "--variant=extract", f"--include={PACKAGES}", SUITE, staging, MIRROR]
    )
    staging.rename(root)
    return root


def cpuinfo(cpu: str, cores: int) -> str:
    """/proc/cpuinfo of a Raspberry Pi with this core: onnxruntime segfaults under qemu when it
    reads the host's x86 one."""
    part, features, board = CPUS[cpu]
    core = (
        f"BogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
        f"CPU variant\t: 0x0\nCPU part\t: {part}\nCPU revision\t: 1\n"
    )
    return "".join(f"processor\t: {i}\n{core}\n" for i in range(cores)) + f"Model\t\t: {board}\n"


def qemu() -> str:
    """The user-mode emulator's path (the guest's PATH holds only the userland's programs)."""
    for name in ("qemu-aarch64-static", "qemu-aarch64"):
        if found := shutil.which(name):
            return found
    raise CheckFailed("qemu-aarch64-static not found: apt-get install qemu-user-static")
