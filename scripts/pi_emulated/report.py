"""The verdict: one table row per check, then one line with the versions checked."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def show(console: Console, summary: dict, out: Path) -> None:
    """The table of checks and the verdict."""
    table = Table(title="emulated aarch64 against native x86", title_justify="left")
    for column in ("check", "qemu cpu", "images", "result"):
        table.add_column(column, justify="right" if column == "images" else "left")
    for check in summary["checks"]:
        if "max_probability_difference" in check:
            detail = f"labels equal, max |Δp| {check['max_probability_difference']:.1e}"
        elif "libraries" in check:
            aligned = check["min_alignment"] // 1024
            detail = f"{check['libraries']} shared libraries, LOAD segments aligned to ≥ {aligned} KiB"
        elif "answer" in check:
            detail = f"answered {check['answer']}, as on x86; stopped cleanly by SIGTERM"
        elif "passed" in check:
            detail = f"{check['passed']} shipped artifacts: every label and logit as at export, within its tolerance"
        elif "accuracy" in check:
            detail = (
                f"{check['accuracy']:.2%} (x86 {check['native_accuracy']:.2%}, manifest "
                f"{check['manifest_accuracy']:.2%}), {len(check['differing_images'])} images differ"
            )
        else:
            detail = f"{check['rows']} rows on {check['machine']['arch']}, timings marked emulated"
        status = (
            f"[red]FAIL[/] {escape('; '.join(check['problems']))}" if check["problems"] else f"[green]ok[/] {detail}"
        )
        table.add_row(check["check"], check["cpu"], str(check.get("images", "")), status)
    console.print(table)
    packages = summary["packages"]
    verdict = "[red]FAILED[/]" if summary["problems"] else "[green]passed[/]"
    console.print(
        f"emulated Raspberry Pi check {verdict} in {summary['seconds']:.0f} s; "
        + ", ".join(f"{k} {packages[k]}" for k in ("onnxruntime", "ai-edge-litert", "numpy", "pillow"))
        + f"; {summary['qemu']}; summary in {out / 'summary.json'}"
    )
