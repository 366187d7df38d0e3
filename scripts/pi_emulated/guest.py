"""Running `fmnist ARGS` natively or emulated, and the probe of what each process was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pi_emulated.target import CPUS, FORBIDDEN, PYTHON, CheckFailed
from pi_emulated.userland import cpuinfo, qemu

# Runs `fmnist ARGS` in-process, then records what the process was: its architecture and any
# TensorFlow module it loaded.
GUEST = f"""
import json, platform, sys
from fmnist.cli import app
probe = sys.argv.pop(1)  # `fmnist bench` records sys.argv as its command
try:
    app(sys.argv[1:], prog_name="fmnist")
except SystemExit as stop:
    code = stop.code
with open(probe, "w") as file:
    json.dump({{"machine": platform.machine(),
               "forbidden": sorted({{m.split(".")[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r}))}}, file)
sys.exit(code)
"""


class Machines:
    """Runs `fmnist ARGS` natively (this venv) or emulated (qemu, the arm64 userland), several at once."""

    def __init__(self, sysroot: Path, site: list[Path], work: Path):
        self.site, self.work = site, work
        self.roots = {cpu: self._cpu_root(sysroot, cpu) for cpu in CPUS}

    def _cpu_root(self, sysroot: Path, cpu: str) -> Path:
        """The userland seen through links, with this CPU's /proc/cpuinfo (qemu -L serves it)."""
        root = self.work / cpu
        (root / "proc").mkdir(parents=True)
        for entry in sysroot.iterdir():
            if entry.name != "proc":
                (root / entry.name).symlink_to(entry)
        (root / "proc/cpuinfo").write_text(cpuinfo(cpu, os.cpu_count() or 1))
        return root

    def command(self, cpu: str | None, args: list) -> tuple[list[str], dict | None, Path]:
        """(argv, environment, probe file) of `fmnist ARGS`; cpu None runs natively."""
        handle, name = tempfile.mkstemp(".json", "probe-", self.work)
        os.close(handle)
        if cpu is None:
            argv, env = [sys.executable], None
        else:
            root = self.roots[cpu]
            argv = [qemu(), "-L", str(root), str(root / f"usr/bin/python{PYTHON}")]
            env = {
                # the userland's programs only: a child of the emulator would run the host's binary (so
                # the host's C compiler is not found, and the C engine is skipped like TFLite Micro)
                "PATH": f"{root}/usr/bin:{root}/bin",
                "HOME": str(self.work),
                "LANG": "C.UTF-8",
                "QEMU_CPU": cpu,
                "PYTHONPATH": os.pathsep.join(map(str, self.site)),
            }
        return [str(a) for a in [*argv, "-c", GUEST, name, *args]], env, Path(name)

    def start(self, cpu: str, args: list) -> tuple[subprocess.Popen, Path]:
        """`fmnist ARGS` left running (a service), and the file its probe goes to when it ends."""
        argv, env, probe = self.command(cpu, args)
        process = subprocess.Popen(argv, env=env, cwd=self.work, stderr=subprocess.PIPE, text=True)
        return process, probe

    def run(self, cpu: str | None, args: list) -> tuple[subprocess.CompletedProcess, dict]:
        """(the finished process, its probe); cpu None runs natively."""
        argv, env, probe = self.command(cpu, args)
        result = subprocess.run(argv, env=env, cwd=self.work, capture_output=True, text=True, check=False)
        if result.returncode or not probe.stat().st_size:
            raise CheckFailed(
                f"fmnist {' '.join(map(str, args))} on {cpu or 'x86'} failed ({result.returncode}):\n"
                f"{result.stderr.strip()[-3000:]}"
            )
        return result, json.loads(probe.read_text())


def check_probe(probe: dict, where: str) -> list[str]:
    problems = [] if probe["machine"] == "aarch64" else [f"{where}: platform.machine() is {probe['machine']!r}"]
    return problems + [f"{where}: imported {module}" for module in probe["forbidden"]]


def predict_args(model: str, inputs: list[str]) -> list:
    return ["predict", "--json", "--top-k", "10", "--model", model, *inputs]
