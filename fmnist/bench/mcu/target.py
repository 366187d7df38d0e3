"""What is emulated and how it is built: the board, the compiler flags, qemu's command; helpers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from fmnist.errors import FmnistError

SOURCES = Path(__file__).resolve().parent  # main.c, startup.c, mps2_an386.ld
BOARD = "mps2-an386"  # Cortex-M4F, 25 MHz system clock
CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
OPTIMISE = ["-O2", "-ffunction-sections", "-fdata-sections"]  # sections: the linker drops what is unused
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic"]
LINK = ["--specs=rdimon.specs", "-nostartfiles", "-Wl,--gc-sections", "-T", SOURCES / "mps2_an386.ld"]
QEMU = ["qemu-system-arm", "-M", BOARD, "-nographic", "-semihosting-config", "enable=on,target=native"]
ICOUNT = ["-icount", "shift=0"]  # one instruction = 2**0 ns of virtual time
TIMER_HZ = 25_000_000  # the CMSDK timer main.c reads: 40 virtual ns, so 40 instructions, a tick


TOOLS = ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "cc")  # cc: the same C on the host
INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc"


def missing_tools() -> list[str]:
    """What the board needs and this machine lacks: the cross compiler, newlib, qemu."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if "arm-none-eabi-gcc" not in missing:
        specs = subprocess.run(
            ["arm-none-eabi-gcc", "-print-file-name=rdimon.specs"], capture_output=True, text=True, check=False
        )
        if specs.stdout.strip() == "rdimon.specs":  # gcc names a file it finds by its full path
            missing.append("newlib (rdimon.specs)")
    return missing


def run_checked(argv: list, **kwargs: Any) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        said = (result.stderr.strip() or result.stdout.strip())[-3000:]
        raise FmnistError(f"{' '.join(map(str, argv[:4]))} … failed ({result.returncode}):\n{said}")
    return result


def version(tool: str) -> str:
    """The first line of `tool --version`."""
    return run_checked([tool, "--version"]).stdout.splitlines()[0]


def figures(stdout: str) -> dict[str, float]:
    """main.c's `key=value` line."""
    pairs = [word.split("=", 1) for word in stdout.split() if "=" in word]
    try:
        return {key: float(value) for key, value in pairs}
    except ValueError:
        raise FmnistError(f"unexpected output: {stdout.strip()[-500:]}") from None
