"""`python -m pi_emulated` (with scripts/ on the path): the whole check, exit 1 on a problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pi_emulated
from pi_emulated.checks import Run
from pi_emulated.target import ROOT, CheckFailed


def main() -> int:
    parser = argparse.ArgumentParser(description=pi_emulated.__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build/pi-emulated", help="summary.json and the bench report"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache/fmnist-pi-emulated",
        help="the arm64 userland and the resolved wheels, kept between runs",
    )
    parser.add_argument("--data-dir", help="the Fashion-MNIST folder (default: as fmnist finds it)")
    args = parser.parse_args()
    problems = Run(args.out.resolve(), args.cache.resolve(), args.data_dir)()  # the guest runs elsewhere
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as exc:
        sys.exit(f"error: {exc}")
