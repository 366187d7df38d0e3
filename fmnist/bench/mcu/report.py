"""mcu.md, mcu.json and the terminal table of `fmnist bench mcu`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fmnist.files import atomic_path, write_json

if TYPE_CHECKING:
    from rich.table import Table

COLUMNS = ("format", "runs with", "flash", "RAM", "instructions / inference", "accuracy")


def _bytes(size: int) -> str:
    return f"{size:,} B ({size / 1024:.1f} KiB)"


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def cells(row: dict) -> list[str]:
    """One row of the table as text."""
    count = row["instructions_per_inference"]
    return [
        row["format"],
        row["runs_with"],
        _kib(row["flash_bytes"]),
        _kib(row["ram_bytes"]),
        "not measured" if count is None else f"{count:,} (emulated)",
        "not measured" if row["accuracy"] is None else f"{row['accuracy']:.2%}",
    ]


def footnotes(report: dict) -> list[str]:
    """What each figure counts, and what the board found."""
    lines = [
        f"{row['format']}: flash {row['flash_bytes']:,} B, {row['flash_counts']}; RAM {row['ram_bytes']:,} B, "
        f"{row['ram_counts']}; instructions {row['instructions_counts']}."
        for row in report["rows"]
    ]
    scored = report["accuracy_images"]
    which = f"all {scored:,}" if scored == 10_000 else f"the first {scored:,}"
    lines.append(f"Accuracy: {which} test images, run on this machine.")
    measured = report["board"]
    if measured:
        same = "identical to" if measured["logits_identical"] else "**not** identical to"
        lines.append(
            f"{measured['target']}: the int8 logits of the first {measured['images']:,} test images "
            f"{same} the host's, byte for byte ({measured['accuracy']:.2%} on them)."
        )
    return lines


def _board(measured: dict) -> list[str]:
    engine, firmware, count = measured["engine"], measured["firmware"], measured["instructions_per_inference"]
    rows = [
        ("instructions per inference (emulated, not cycles)", f"{count['mean']:,} ({count['min']:,}–{count['max']:,})"),
        ("engine flash (.text + .rodata)", _bytes(engine["flash"]["total"])),
        ("engine RAM (.data + .bss + stack)", f"{_bytes(engine['ram']['total'])}, stack {engine['ram']['stack']} B"),
        ("firmware flash", _bytes(firmware["flash"]["total"])),
        (
            "firmware RAM (.data + .bss + stack)",
            f"{_bytes(firmware['ram']['total'])}, stack {firmware['ram']['stack']} B",
        ),
        ("engine on the host", f"{measured['host_engine_us_per_inference']} µs per inference"),
        (
            "qemu",
            f"{measured['emulation']['qemu_seconds']} s ({measured['emulation']['emulated_mips']:,} emulated MIPS)",
        ),
    ]
    versions = measured["versions"]
    return [
        "## The C engine on the emulated board",
        "",
        f"{measured['target']}; built with `arm-none-eabi-gcc {' '.join(measured['flags'])}`.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Instructions come from qemu's instruction count (one a virtual nanosecond, read through the board's "
        "25 MHz timer): a Cortex-M4 takes more cycles than instructions (loads, multiplies, branches). RAM counts "
        "the stack painted and found used; the firmware's heap (the test images, stdio buffers) is left out.",
        "",
        f"{versions['arm-none-eabi-gcc']}; {versions['qemu-system-arm']}; {versions['cc']}. `{measured['command']}`.",
        "",
    ]


def markdown(report: dict) -> str:
    verdict = "**FAILED**: " + "; ".join(report["problems"]) if report["problems"] else ""
    text = [
        f"# Microcontroller formats of {report['model']}",
        "",
        *([verdict, ""] if verdict else []),
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(cells(row)) + " |" for row in report["rows"]),
        "",
        *(f"- {line}" for line in footnotes(report)),
        *(f"- note: {note}" for note in report["notes"]),
        "",
        *(_board(report["board"]) if report["board"] else []),
        f"Host: {report['machine']['cpu']}. `{report['command']}`; {report['seconds']} s in all.",
        "",
    ]
    return "\n".join(text)


def write(report: dict, out_dir: Path) -> list[Path]:
    """mcu.md and mcu.json into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "mcu.md") as tmp:
        tmp.write_text(markdown(report))
    write_json(out_dir / "mcu.json", report)
    return [out_dir / "mcu.md", out_dir / "mcu.json"]


def rich_table(report: dict) -> Table:
    """The terminal table."""
    from rich.table import Table

    table = Table(title=f"microcontroller formats of {report['model']}", title_justify="left")
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="right" if i >= 2 else "left")
    for row in report["rows"]:
        table.add_row(*cells(row))
    return table
