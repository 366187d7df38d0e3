"""The benchmark report: a terminal table, and bench.md / bench.csv / bench.json / plots."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fmnist.bench.row import Row
from fmnist.files import atomic_path, write_json

COLUMNS = [
    "artifact",
    "call",
    "threads",
    "size",
    "accuracy",
    "Δ acc",
    "agreement",
    "p50 µs",
    "p90 µs",
    "p99 µs",
    "min–max µs",
]
MEASURED = ("µs", "img/s", "cold ms", "RSS MB", "GMAC/s")  # columns an emulator makes meaningless


def _shown(name: str, emulated: str | None) -> str:
    return f"{name} (emulated)" if emulated and any(m in name for m in MEASURED) else name


def _subset(report: dict) -> str | None:
    images = report["settings"].get("images", 10000)
    return None if images == 10000 else f"the first {images:,} of the 10,000 test images"


def _warning(report: dict) -> str | None:
    emulated = report["machine"].get("emulated")
    return emulated and f"EMULATED ({emulated}): timings and memory are the emulator's, not the emulated CPU's"


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{100 * value:+.2f} pp" if signed else f"{value:.2%}"


def cells(row: Row, batches: list[str]) -> list[str]:
    """One row of the table as text, in COLUMNS order, then images/s per batch, cold start, RSS, GMAC/s."""
    lat = row.latency_us
    return [
        row.artifact,
        row.call,
        str(row.threads or "auto"),
        f"{row.bytes / 1024:,.0f} KiB",
        _pct(row.accuracy),
        _pct(row.delta_accuracy, signed=True),
        _pct(row.agreement),
        f"{lat['p50']:,.1f}",
        f"{lat['p90']:,.1f}",
        f"{lat['p99']:,.1f}",
        f"{lat['min']:,.0f}–{lat['max']:,.0f}",
        *(f"{row.throughput[b]:,.0f}" for b in batches),
        "–" if row.cold_start_ms is None else f"{row.cold_start_ms:,.0f}",
        "–" if row.peak_rss_mb is None else f"{row.peak_rss_mb:,.0f}",
        "–" if row.gmacs is None else f"{row.gmacs:,.1f}",
    ]


def headers(batches: list[str]) -> list[str]:
    return [*COLUMNS, *(f"img/s @{b}" for b in batches), "cold ms", "RSS MB", "GMAC/s"]


def rich_tables(report: dict) -> list:
    """Two terminal tables, so each fits a normal terminal: quality and cost, then speed."""
    from rich.table import Table

    batches, emulated = report["settings"]["batches"], report["machine"].get("emulated")
    names = headers(batches)
    scored = f" (on {_subset(report)})" if _subset(report) else ""
    parts = [
        (
            f"accuracy{scored} against the float model, size, cold start of a fresh process",
            ["artifact", "call", "threads", "size", "accuracy", "Δ acc", "agreement", "cold ms", "RSS MB"],
        ),
        (
            "speed: batch-1 latency per call; throughput in images/s per batch size",
            [
                "artifact",
                "call",
                "threads",
                "p50 µs",
                "p90 µs",
                "p99 µs",
                "min–max µs",
                *(f"img/s @{b}" for b in batches),
                "GMAC/s",
            ],
        ),
    ]
    tables = []
    for title, columns in parts:
        table = Table(title=f"{_warning(report)}\n{title}" if emulated else title, title_justify="left")
        for i, name in enumerate(columns):
            table.add_column(_shown(name, emulated), justify="left" if i < 2 else "right", no_wrap=True)
        for row in map(Row.from_json, report["rows"]):
            if "accuracy" in columns and row.call == "runtime":  # the same file as its Classifier row
                continue
            values = dict(zip(names, cells(row, batches), strict=True))
            table.add_row(*(values[c] for c in columns))
        tables.append(table)
    for label, profile in report.get("profile", {}).items():
        table = Table(title=profile_title(label, profile), title_justify="left")
        for i, name in enumerate(("node", "op", "cost", "share")):
            table.add_column(name, justify="left" if i < 2 else "right", no_wrap=i > 0)
        for texts in profile_rows(profile):
            table.add_row(*texts)
        tables.append(table)
    return tables


def profile_rows(profile: dict) -> list[list[str]]:
    """One artifact's operators as text: node, op, time or MACs, share."""
    unit = "µs" if profile["timed"] else "MACs"
    return [
        [
            o["node"],
            o["op"],
            f"{o['us']:,.2f} {unit}" if profile["timed"] else f"{o['macs']:,} {unit}",
            f"{o['share']:.1%}",
        ]
        for o in profile["ops"]
    ]


def profile_title(label: str, profile: dict) -> str:
    if not profile["timed"]:
        return f"{label}: {profile['note']}"
    run = f" of the profiled run's {profile['run_us']:,.1f} µs" if profile.get("run_us") else ""
    total = sum(o["us"] for o in profile["ops"])
    return (
        f"{label}: each operator's kernel time per image at batch {profile['batch']}, one thread, "
        "the mean over the middle half of the calls "
        f"({total:,.1f} µs in all{run})"
    )


def markdown(report: dict) -> str:
    batches, machine = report["settings"]["batches"], report["machine"]
    shown = [_shown(name, machine.get("emulated")) for name in headers(batches)]
    lines = [
        "# fmnist bench",
        "",
        *([f"**{_warning(report)}.**", ""] if machine.get("emulated") else []),
        f"{machine['cpu']}, {machine['cores']} cores, {machine['os']}, Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items()),
        "",
        f"Command: `{report['command']}`  ",
        f"Date: {report['date']}",
        "",
        "| " + " | ".join(shown) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers(batches)))) + "|",
    ]
    lines += ["| " + " | ".join(cells(row, batches)) + " |" for row in map(Row.from_json, report["rows"])]
    subset = f"Accuracy on {_subset(report)}. " if _subset(report) else ""
    lines += [
        "",
        subset + "Δ acc and agreement are against each model's float reference "
        "(the Keras model when measured, else its float artifact). `runtime` rows call the runtime "
        "directly (int8 logits left quantised), beside the same file through `Classifier`. "
        "Method: benchmarks/README.md.",
    ]
    lines += [f"- {note}" for note in report["notes"]]
    for label, profile in report.get("profile", {}).items():
        lines += ["", f"### {profile_title(label, profile)}", "", "| node | op | cost | share |", "|---|---|---:|---:|"]
        lines += ["| " + " | ".join(texts) + " |" for texts in profile_rows(profile)]
    return "\n".join(lines) + "\n"


def flat_csv(report: dict) -> str:
    batches = report["settings"]["batches"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    keys = [
        "artifact",
        "call",
        "file",
        "format",
        "precision",
        "threads",
        "bytes",
        "accuracy",
        "delta_accuracy",
        "agreement",
        "cold_start_ms",
        "peak_rss_mb",
        "macs",
        "gmacs",
    ]
    writer.writerow(
        keys
        + [f"latency_us_{k}" for k in ("p50", "p90", "p99", "min", "max")]
        + [f"images_per_s_batch_{b}" for b in batches]
        + ["emulated"]
    )
    for row in map(Row.from_json, report["rows"]):
        writer.writerow(
            [getattr(row, k) for k in keys]
            + [row.latency_us[k] for k in ("p50", "p90", "p99", "min", "max")]
            + [row.throughput[b] for b in batches]
            + [report["machine"].get("emulated") or ""]
        )
    return buffer.getvalue()


def write(report: dict, out_dir: Path) -> list[Path]:
    """Write every output; plots only where matplotlib is installed (a note says otherwise)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        from fmnist import plots
    except ImportError:
        report["notes"].append("plots skipped: matplotlib is not installed (pip install 'fmnist[plot]')")
        written = []
    else:
        rows = [Row.from_json(r) for r in report["rows"]]
        written = plots.bench(rows, report["settings"]["batches"], out_dir, _warning(report))
        if report.get("profile"):
            written.append(plots.profile(report["profile"], out_dir / "profile.png"))
    if report.get("profile"):
        write_json(out_dir / "profile.json", {"machine": report["machine"], "profile": report["profile"]})
        written.append(out_dir / "profile.json")
    for name, text in (("bench.md", markdown(report)), ("bench.csv", flat_csv(report))):
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text(text)
        written.append(out_dir / name)
    write_json(out_dir / "bench.json", report)
    return [*written, out_dir / "bench.json"]
