"""The accuracy-latency frontier: one row per trained variant, from one bench run.

Usage: python benchmarks/frontier.py BENCH.json --out DIR

Reads the bench report (the variants' export folders measured together, the shipped model
among them) and each variant's training record (metrics.json of its run), and writes
frontier.json, frontier.md and frontier.png: parameters, MACs, float and int8 test accuracy
and int8 TFLite batch-1 latency of each variant, the Pareto front of int8 accuracy against
that latency marked. Written by benchmarks/frontier.sh.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fmnist import folders
from fmnist.bench.row import CLASSIFIER, Row

FORMAT = "tflite-int8"  # the artifact an edge device runs, through Classifier as fmnist runs it


def rows(bench: dict) -> list[dict]:
    """One row per bench group's int8 TFLite artifact at its fewest threads, with its training record."""
    measured = [Row.from_json(r) for r in bench["rows"]]
    fewest = min(r.threads for r in measured if r.threads)
    found = []
    for row in measured:
        if row.format != FORMAT or row.call != CLASSIFIER or row.threads != fewest:
            continue
        manifest = folders.read_manifest(Path(row.file).parent)
        source = manifest.source
        training = source.get("training", {})
        found.append(
            {
                "model": row.model,
                "arch": training.get("arch"),
                "params": training.get("params"),
                "macs": training.get("macs"),
                "float_accuracy": source["test_accuracy"],
                "int8_accuracy": manifest.entries[FORMAT].verified["accuracy"],
                "p50_us": row.latency_us["p50"],
                "min_us": row.latency_us["min"],
                "bytes": row.bytes,
                "command": training.get("command"),
            }
        )
    return found


def pareto(found: list[dict]) -> list[dict]:
    """Mark each row that no other row beats on both latency and int8 accuracy."""
    for row in found:
        row["pareto"] = not any(
            other["p50_us"] <= row["p50_us"]
            and other["int8_accuracy"] >= row["int8_accuracy"]
            and (other["p50_us"], other["int8_accuracy"]) != (row["p50_us"], row["int8_accuracy"])
            for other in found
        )
    return sorted(found, key=lambda r: r["p50_us"])


def markdown(found: list[dict], bench: dict) -> str:
    machine = bench["machine"]
    lines = [
        "# The accuracy-latency frontier",
        "",
        f"{machine['cpu']}, {machine['cores']} cores; int8 TFLite through `Classifier`, batch 1, "
        f"one thread, one bench run (`{bench['command']}`, {bench['date']}). Accuracy on the 10,000 test "
        "images, verified at export. ★: on the Pareto front (no other variant is both faster and more accurate).",
        "",
        "| model | arch | parameters | MACs | float | int8 | p50 µs | min µs | size | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in found:
        macs = f"{r['macs'] / 1e6:.2f} M" if r["macs"] else "–"
        params = f"{r['params']:,}" if r["params"] else "–"
        lines.append(
            f"| {r['model']} | {r['arch'] or '–'} | {params} | {macs} | {r['float_accuracy']:.2%} | "
            f"{r['int8_accuracy']:.2%} | {r['p50_us']:.1f} | {r['min_us']:.1f} | {r['bytes'] / 1024:.0f} KiB | "
            f"{'★' if r['pareto'] else ''} |"
        )
    return "\n".join(lines) + "\n"


def plot(found: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    front = [r for r in found if r["pareto"]]
    ax.plot(
        [r["p50_us"] for r in front], [100 * r["int8_accuracy"] for r in front], "--", color="C3", label="Pareto front"
    )
    for r in found:
        ax.scatter(r["p50_us"], 100 * r["int8_accuracy"], s=60, color="C3" if r["pareto"] else "C0", zorder=3)
        ax.annotate(
            r["model"], (r["p50_us"], 100 * r["int8_accuracy"]), textcoords="offset points", xytext=(5, 4), fontsize=8
        )
    ax.set(xlabel="int8 TFLite batch-1 latency p50 (µs, one thread)", ylabel="int8 test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    bench = json.loads(args.bench.read_text())
    found = pareto(rows(bench))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "frontier.json").write_text(json.dumps({"machine": bench["machine"], "rows": found}, indent=2) + "\n")
    (args.out / "frontier.md").write_text(markdown(found, bench))
    plot(found, args.out / "frontier.png")
    print(markdown(found, bench), end="")


if __name__ == "__main__":
    main()
