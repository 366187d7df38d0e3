"""Time a command as fresh processes against a baseline command, run in turn.

Usage: python benchmarks/time_processes.py [--runs N] [--baseline CMD] [--out FILE.json] -- COMMAND...

Each run of COMMAND is paired with a run of the baseline (default: the interpreter importing
numpy and Pillow, what any Python image classifier starts with), so a neighbour's load moves
both; the report holds the median, min and max wall time and peak RSS of each and the median
of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time

from fmnist import machine
from fmnist.bench.process import ProcessRun, run_fresh


def summary(runs: list[ProcessRun]) -> dict:
    ms = [1000 * r.seconds for r in runs]
    return {
        "wall_ms": {"median": round(statistics.median(ms), 1), "min": round(min(ms), 1), "max": round(max(ms), 1)},
        "peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=2, help="Pairs discarded first (page cache).")
    parser.add_argument("--baseline", default=f"{shlex.quote(sys.executable)} -c 'import numpy, PIL.Image'")
    parser.add_argument("--out")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    baseline = shlex.split(args.baseline)
    pairs = []
    for i in range(args.warmup + args.runs):
        pair = run_fresh(args.command), run_fresh(baseline)
        for argv, run in zip((args.command, baseline), pair, strict=True):
            if run.returncode:
                sys.exit(f"{shlex.join(argv)} failed ({run.returncode}): {run.stderr.strip()}")
        if i >= args.warmup:
            pairs.append(pair)
    report = {
        "command": shlex.join(args.command),
        "runs": args.runs,
        **summary([a for a, _ in pairs]),
        "baseline": {"command": shlex.join(baseline), **summary([b for _, b in pairs])},
        "ratio_to_baseline": round(statistics.median(a.seconds / b.seconds for a, b in pairs), 2),
        "output": pairs[-1][0].stdout.strip(),
        "machine": machine.describe(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
