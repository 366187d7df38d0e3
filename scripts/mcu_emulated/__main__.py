"""`python -m mcu_emulated` (with scripts/ on the path): the whole check, exit 1 on a problem."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mcu_emulated
from mcu_emulated import check, report
from mcu_emulated.target import ROOT, CheckFailed


def main() -> int:
    parser = argparse.ArgumentParser(description=(mcu_emulated.__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/mcu", help="report.json, report.md")
    parser.add_argument("--work", type=Path, default=ROOT / "build/mcu-emulated", help="the engine and the builds")
    parser.add_argument("--images", type=int, default=1000, help="how many test images, from the first")
    parser.add_argument("--data-dir", help="the Fashion-MNIST folder (default: as fmnist finds it)")
    args = parser.parse_args()
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"{time.perf_counter() - started:6.1f} s  {text}", flush=True)

    result = check.run(args.work.resolve(), args.images, args.data_dir, step)
    report.write(result, args.out)
    step(f"report in {args.out / 'report.md'}:")
    sys.stdout.write((args.out / "report.md").read_text())
    for problem in result["problems"]:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as exc:
        sys.exit(f"error: {exc}")
