"""Seconds per epoch of one recipe on each Keras backend, trained in turn on this machine.

Usage: python benchmarks/backends.py [--arch edge] [--limit N] [--epochs N] [--out DIR]

Each backend trains the same run (`fmnist train --backend B`, same seed and settings) in a fresh
process; an epoch's seconds come from the run's history.json. The first epoch includes compiling
the training step, so it is reported apart. Writes DIR/backends.json and DIR/backends.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fmnist import machine

BACKENDS = ("tensorflow", "jax")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="edge")
    ap.add_argument("--limit", type=int, default=12000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/backends"))
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as runs:
        for name in BACKENDS:
            command = [
                sys.executable, "-m", "fmnist", "train", "--backend", name, "--arch", args.arch,
                "--limit", str(args.limit), "--epochs", str(args.epochs), "--runs-dir", runs, "--name", name,
            ]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
            history = json.loads((Path(runs) / name / "history.json").read_text())
            metrics = json.loads((Path(runs) / name / "metrics.json").read_text())
            later = [r["seconds"] for r in history[1:]]
            rows[name] = {
                "first_epoch_seconds": history[0]["seconds"],
                "later_epoch_seconds_median": round(statistics.median(later), 2),
                "test_accuracy": metrics["test_accuracy"],
                "devices": metrics["machine"]["devices"],
            }
    base = rows["tensorflow"]["later_epoch_seconds_median"]
    report = {
        "arch": args.arch,
        "train_images": round(args.limit * 0.9),
        "epochs": args.epochs,
        "machine": machine.describe(),
        "backends": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backends.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# `{args.arch}` on each backend",
        "",
        f"`python benchmarks/backends.py --arch {args.arch} --limit {args.limit} --epochs {args.epochs}`: "
        f"{report['train_images']:,} training images, the same seed and settings. "
        f"CPU: {report['machine'].get('cpu', 'unknown')}.",
        "",
        "| backend | devices | first epoch (compiles) | later epochs, median | × TensorFlow | test accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {', '.join(row['devices'])} | {row['first_epoch_seconds']:.1f} s "
            f"| {row['later_epoch_seconds_median']:.2f} s | {row['later_epoch_seconds_median'] / base:.2f} "
            f"| {row['test_accuracy']:.2%} |"
        )
    (args.out / "backends.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
