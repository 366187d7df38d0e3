"""Time a command as fresh processes: median, min and max wall time and peak RSS.

Usage: python benchmarks/cold_start.py [--runs N] [--out FILE.json] -- COMMAND...
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time

from fmnist import machine
from fmnist.bench.process import run_fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=2, help="Runs discarded first (page cache).")
    parser.add_argument("--out")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    runs = []
    for i in range(args.warmup + args.runs):
        run = run_fresh(args.command)
        if run.returncode:
            sys.exit(f"{shlex.join(args.command)} failed ({run.returncode}): {run.stderr.strip()}")
        if i >= args.warmup:
            runs.append(run)
    ms = [1000 * r.seconds for r in runs]
    report = {
        "command": shlex.join(args.command),
        "runs": args.runs,
        "wall_ms": {"median": round(statistics.median(ms), 1), "min": round(min(ms), 1), "max": round(max(ms), 1)},
        "peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in runs), 1),
        "output": runs[-1].stdout.strip(),
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
