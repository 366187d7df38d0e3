"""The runtime-only install for CPython 3.11 on aarch64: resolved by pip without installing, then unpacked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pi_emulated.target import BROKEN_ONNXRUNTIME, FORBIDDEN, GLIBC, PYTHON, cache_key, run_checked


def platform_tags(glibc: tuple[int, int] = GLIBC) -> list[str]:
    """Every aarch64 manylinux tag a system with this glibc accepts. pip does not expand a tag
    downwards, and ai-edge-litert 2.x wheels carry only manylinux_2_27: a shorter list makes
    pip pick ai-edge-litert 1.4.0 without a word."""
    return ["manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, glibc[1] + 1))]


def pip_target(glibc: tuple[int, int] = GLIBC) -> list[str]:
    """pip options that resolve wheels for CPython 3.11 on aarch64 Linux, binary only."""
    options = [
        "--only-binary=:all:",
        "--python-version",
        PYTHON,
        "--implementation",
        "cp",
        "--abi",
        "cp" + PYTHON.replace(".", ""),
    ]
    for tag in platform_tags(glibc):
        options += ["--platform", tag]
    return options


def pip(*args: str | Path) -> subprocess.CompletedProcess:
    return run_checked([sys.executable, "-m", "pip", "--disable-pip-version-check", *args])


def resolve(requirement: str, glibc: tuple[int, int] = GLIBC) -> dict[str, str]:
    """{package: version} that pip installs for the target, found without installing anything."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip(
            "install", "--quiet", "--dry-run", "--ignore-installed", "--report", report, *pip_target(glibc), requirement
        )
        items = json.loads(report.read_text())["install"]
    return {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"] for i in items}


def check_resolution(packages: dict[str, str]) -> list[str]:
    """What is wrong with a resolved runtime install: TensorFlow, an old LiteRT, a bad onnxruntime."""
    problems = [
        f"{name} {version} would be installed: the runtime must run without it"
        for name, version in packages.items()
        if name.replace("-", "_") in FORBIDDEN or name.startswith("tensorflow")
    ]
    litert = packages.get("ai-edge-litert")
    if litert is None or int(litert.split(".")[0]) < 2:
        problems.append(f"ai-edge-litert {litert or 'missing'}: expected 2.0 or newer")
    onnxruntime = packages.get("onnxruntime")
    if onnxruntime is None or onnxruntime == BROKEN_ONNXRUNTIME:
        problems.append(f"onnxruntime {onnxruntime or 'missing'}: expected a release that runs on a Pi 4")
    return problems


def build_site(cache: Path, packages: dict[str, str], wheel: Path, work: Path) -> list[Path]:
    """PYTHONPATH for the guest: the fmnist wheel (fresh every run), then its dependencies
    (pinned to the resolved versions, kept while those and the target stay the same)."""
    pins = sorted(f"{name}=={version}" for name, version in packages.items() if name != "fmnist")
    deps = cache / f"site-{cache_key(pins, pip_target())}"
    if not deps.is_dir():
        for old in cache.glob("site-*"):  # older pins
            shutil.rmtree(old)
        staging = cache / ".site.partial"
        shutil.rmtree(staging, ignore_errors=True)
        pip("install", "--quiet", "--no-deps", "--target", staging, *pip_target(), *pins)
        staging.rename(deps)
    project = work / "fmnist-site"
    pip("install", "--quiet", "--no-deps", "--target", project, wheel)
    return [project, deps]
