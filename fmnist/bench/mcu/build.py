"""An exported C engine, compiled for the Cortex-M4 and for the host; what it occupies."""

from __future__ import annotations

import shutil
from pathlib import Path

from fmnist.bench.mcu.target import CPU, LINK, OPTIMISE, SOURCES, STRICT, run_checked
from fmnist.errors import FmnistError

ENGINE = "fmnist_model.c"
HEADER = "fmnist_model.h"
FLASH = (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data")  # .data: its initial values
RAM = (".data", ".bss")


def engine(source: Path, work: Path) -> None:
    """An export's fmnist_model.c and its header, copied into `work`."""
    for path in (source, source.with_name(HEADER)):
        shutil.copyfile(path, work / path.name)


def warnings(work: Path) -> list[str]:
    """The engine alone under -std=c99 -Wall -Wextra -pedantic, with each compiler: any diagnostic."""
    problems = []
    for compiler, flags in (("arm-none-eabi-gcc", [*CPU, "-O2"]), ("cc", ["-O2"])):
        said = run_checked([compiler, *flags, *STRICT, "-c", work / ENGINE, "-o", work / "strict.o"]).stderr
        if said.strip():
            problems.append(f"{compiler} warns about {ENGINE}:\n{said.strip()[-2000:]}")
    return problems


def firmware(work: Path) -> tuple[Path, Path]:
    """fw.elf for the mps2-an386 and the engine's own object (to measure it alone)."""
    objects = []
    for source, defines in ((work / ENGINE, []), (SOURCES / "main.c", ["-DFIRMWARE"]), (SOURCES / "startup.c", [])):
        target = work / f"{source.stem}.o"
        flags = [*CPU, *OPTIMISE, *STRICT, "-Werror", *defines, "-I", work]
        run_checked(["arm-none-eabi-gcc", *flags, "-c", source, "-o", target])
        objects.append(target)
    elf = work / "fw.elf"
    run_checked(["arm-none-eabi-gcc", *CPU, *LINK, f"-Wl,-Map={work / 'fw.map'}", *objects, "-o", elf])
    return elf, objects[0]


def host(work: Path) -> Path:
    """The same main.c and engine, built natively."""
    binary = work / "host"
    run_checked(["cc", "-O2", *STRICT, "-Werror", "-I", work, SOURCES / "main.c", work / ENGINE, "-o", binary])
    return binary


def sections(path: Path) -> dict[str, int]:
    """Bytes per section kind (.text.foo counts as .text), from `arm-none-eabi-size -A`."""
    sizes: dict[str, int] = {}
    for line in run_checked(["arm-none-eabi-size", "-A", path]).stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit():
            kind = next((k for k in (*FLASH, ".bss", ".stack") if fields[0] == k or fields[0].startswith(k + ".")), "")
            if kind:
                sizes[kind] = sizes.get(kind, 0) + int(fields[1])
    if ".text" not in sizes:
        raise FmnistError(f"no .text in {path}")
    return sizes


def footprint(sizes: dict[str, int], stack: int) -> dict:
    """Flash (code, constants, initial data) and RAM (data, bss, the measured stack) in bytes."""
    flash = {k.lstrip("."): sizes.get(k, 0) for k in FLASH if sizes.get(k)}
    ram = {k.lstrip("."): sizes.get(k, 0) for k in RAM}
    return {
        "flash": {**flash, "total": sum(flash.values())},
        "ram": {**ram, "stack": stack, "total": sum(ram.values()) + stack},
    }
