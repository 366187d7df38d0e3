"""report.json and a short report.md."""

from __future__ import annotations

import json
from pathlib import Path


def _kib(size: int) -> str:
    return f"{size:,} B ({size / 1024:.1f} KiB)"


def _ram(part: dict) -> str:
    return f"{_kib(part['ram']['total'])}, stack {part['ram']['stack']} B"


def write(report: dict, out: Path) -> None:
    """Both files into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    engine, firmware, count = report["engine"], report["firmware"], report["instructions_per_inference"]
    verdict = "**FAILED**: " + "; ".join(report["problems"]) if report["problems"] else "passed"
    rows = [
        ("instructions per inference (emulated, not cycles)", f"{count['mean']:,} ({count['min']:,}–{count['max']:,})"),
        ("engine flash (.text + .rodata)", _kib(engine["flash"]["total"])),
        ("engine RAM (.data + .bss + stack)", _ram(engine)),
        ("firmware flash", _kib(firmware["flash"]["total"])),
        ("firmware RAM (.data + .bss + stack)", _ram(firmware)),
        (f"accuracy, {report['images']:,} images", f"{report['accuracy']:.2%}"),
        ("logits equal to the host's, byte for byte", "yes" if report["logits_identical"] else "**no**"),
        ("engine on the host", f"{report['host']['engine_us_per_inference']} µs per inference"),
        ("qemu", f"{report['emulation']['qemu_seconds']} s ({report['emulation']['emulated_mips']:,} emulated MIPS)"),
    ]
    versions = report["versions"]
    text = [
        "# fmnist's C engine on an emulated Cortex-M4F",
        "",
        f"Check {verdict}. {report['target']}; built with `arm-none-eabi-gcc {' '.join(report['flags'])}`.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Instructions come from qemu's instruction count (one a virtual nanosecond, read through the board's "
        "25 MHz timer): a Cortex-M4 takes more cycles than instructions (loads, multiplies, branches). RAM counts "
        "the stack painted and found used; the firmware's heap (the test images, stdio buffers) is left out.",
        "",
        f"Host: {report['host']['cpu']}; {versions['arm-none-eabi-gcc']}; {versions['qemu-system-arm']}; "
        f"{versions['cc']}. `{report['command']}`; {report['seconds']} s in all.",
        "",
    ]
    (out / "report.md").write_text("\n".join(text))
