"""Summarise the GPU runs of benchmarks/gpu.sh: seconds per epoch, wall time, images/s and test
accuracy of each run, with the GPU named. Usage: gpu_report.py RUNS_DIR OUT_DIR"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from fmnist import machine


def wall(path: Path) -> float:
    start, end = map(float, path.read_text().split())
    return round(end - start, 1)


def gpu_name() -> str:
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "no GPU (nvidia-smi not found)"
    return "; ".join(line.strip() for line in found.splitlines() if line.strip())


def main() -> None:
    runs, out = Path(sys.argv[1]), Path(sys.argv[2])
    rows: list[dict[str, Any]] = []
    for log in sorted(runs.glob("*.log")):
        name, folder = log.stem, runs / log.stem
        if not (folder / "metrics.json").exists():
            rows.append({"run": name, "failed": log.read_text()[-2000:]})
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        history = json.loads((folder / "history.json").read_text())
        epochs = [r["seconds"] for r in history]
        rows.append(
            {
                "run": name,
                "precision": "bfloat16 mixed" if metrics["mixed_precision"] else "float32",
                "seed": metrics["seed"],
                "epochs": len(epochs),
                "first_epoch_seconds": epochs[0],
                "later_epoch_seconds_median": round(statistics.median(epochs[1:] or epochs), 2),
                "train_seconds": metrics["train_seconds"],
                "wall_seconds": wall(runs / f"{name}.wall"),
                "images_per_second": round(metrics["train_images"] * len(epochs) / metrics["train_seconds"]),
                "val_accuracy": metrics["val_accuracy"],
                "test_accuracy": metrics["test_accuracy"],
                "devices": metrics["machine"]["devices"],
            }
        )
    report: dict[str, Any] = {
        "gpu": gpu_name(),
        "machine": machine.describe(),
        "side_by_side_wall_seconds": wall(runs / "all.wall"),
    }
    report["runs"] = rows
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# The shipped recipe on a GPU (JAX)",
        "",
        f"`bash benchmarks/gpu.sh run`: `edge-n8`, random erasing 0.5, EMA 0.999; the runs side by side on one GPU, "
        f"{report['side_by_side_wall_seconds']:.0f} s for all. GPU: {report['gpu']}. "
        f"CPU: {report['machine']['cpu']}, {report['machine']['cores']} cores.",
        "",
        "| run | precision | epochs | first epoch | epoch, median | training | wall | images/s | validation | test |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['run']} | failed: see gpu.json | | | | | | | | |")
            continue
        lines.append(
            f"| {r['run']} | {r['precision']} | {r['epochs']} | {r['first_epoch_seconds']:.1f} s "
            f"| {r['later_epoch_seconds_median']:.2f} s | {r['train_seconds']:.0f} s | {r['wall_seconds']:.0f} s "
            f"| {r['images_per_second']:,} | {r['val_accuracy']:.2%} | {r['test_accuracy']:.2%} |"
        )
    (out / "gpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
