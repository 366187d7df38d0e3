"""Cold start: a fresh Python process that imports, loads one artifact and classifies one image.

Each child reports its own architecture (under qemu-user a child runs the host's binary, which
would time the wrong machine) and its own peak RSS (VmHWM: a forked child's rusage would also
count the parent's pages from before exec).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from fmnist.bench.process import ProcessRun, run_fresh
from fmnist.errors import FmnistError

_REPORT = (
    "\nimport pathlib, platform\nstatus = pathlib.Path('/proc/self/status')\n"
    "print('machine', platform.machine())\n"
    "print('peak_kb', status.read_text().split('VmHWM:')[1].split()[0] if status.exists() else '')"
)
SCRIPTS = {  # argv: artifact path, threads (0: the runtime's default)
    "runtime": "import sys, numpy as np\nfrom fmnist.runtime import Classifier\n"
    "Classifier(sys.argv[1], int(sys.argv[2]) or None).predict(np.zeros((1, 28, 28), np.uint8))",
    "keras-predict": "import sys, numpy as np, keras\nm = keras.models.load_model(sys.argv[1], compile=False)\n"
    "m.predict(np.zeros((1, *m.inputs[0].shape[1:]), m.inputs[0].dtype), verbose=0)",
    "keras-call": "import sys, numpy as np, keras\nm = keras.models.load_model(sys.argv[1], compile=False)\n"
    "m(np.zeros((1, *m.inputs[0].shape[1:]), m.inputs[0].dtype), training=False)",
}


@dataclass(frozen=True)
class ColdStart:
    """Medians over the fresh processes."""

    ms: float  # wall time from spawn to exit
    peak_rss_mb: float


def _reported(run: ProcessRun) -> dict[str, str]:
    """What a child printed last: its machine and peak_kb."""
    lines = (line.split(" ", 1) for line in run.stdout.splitlines() if line.startswith(("machine ", "peak_kb ")))
    return dict(lines)


def _peak_mb(run: ProcessRun) -> float:
    reported = _reported(run).get("peak_kb", "")
    return int(reported) / 1024 if reported.isdigit() else run.peak_rss_mb


def measure(kind: str, path: Path, threads: int, runs: int) -> ColdStart | None:
    """`runs` fresh processes of SCRIPTS[kind] (None when runs is 0); a child that fails or
    runs on another architecture is an error."""
    if not runs:
        return None
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    argv = [sys.executable, "-c", SCRIPTS[kind] + _REPORT, str(path), str(threads)]
    try:
        results = [run_fresh(argv, env) for _ in range(runs)]
    except OSError as exc:
        reason = exc.strerror or exc
        raise FmnistError(
            f"cold start: cannot start {sys.executable} ({reason}); under an emulator, pass --cold-starts 0"
        ) from None
    failed = next((r for r in results if r.returncode), None)
    if failed:
        last = (failed.stderr.strip().splitlines() or ["no output"])[-1]
        raise FmnistError(f"cold start of {path.name} failed ({failed.returncode}): {last}; --cold-starts 0 skips it")
    started = {_reported(r).get("machine", "an unknown machine") for r in results}
    if started != {platform.machine()}:
        raise FmnistError(
            f"cold start: {sys.executable} ran as {', '.join(sorted(started))}, not {platform.machine()} "
            "(an emulator's child runs the host's binary); pass --cold-starts 0"
        )
    return ColdStart(
        round(statistics.median(1000 * r.seconds for r in results), 1),
        round(statistics.median(_peak_mb(r) for r in results), 1),
    )
