"""fmnist's runtime as a Raspberry Pi runs it, checked from an x86 machine.

Debian bookworm arm64 (what 64-bit Raspberry Pi OS is built on: Python 3.11, glibc 2.36) is
unpacked with mmdebstrap; the runtime-only install (the fmnist wheel, numpy, Pillow, typer,
rich, onnxruntime, ai-edge-litert; never TensorFlow) is resolved for cp311 aarch64 and unpacked
beside it; qemu user-mode emulation runs that Python as a Cortex-A72 (Pi 4) and a Cortex-A76
(Pi 5). Every command also runs natively, and the two must agree:

- `fmnist predict` on the example photos and an IDX file, in each shipped format: the same
  labels; float probabilities within 1e-5; the largest int8 difference is reported;
- `fmnist evaluate` of the shipped int8 TFLite and float ONNX models on the 10,000 test images:
  the manifest's accuracy, or within 0.05 points with the images that differ listed;
- `fmnist bench --quick` (no cold start: a child of the emulator would run the host's binary),
  its timings marked as emulated;
- every emulated process reports platform.machine() == "aarch64" and no TensorFlow module;
- every shared library of the install loads on the Pi 5's 16 KiB pages (qemu cannot emulate
  those): its LOAD segments are aligned to 16 KiB or more.

Emulation proves the wheels load and compute the same answers; it says nothing about speed.
Run it with `bash scripts/pi-emulated.sh [--out DIR] [--cache DIR]`.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE, PYTHON, GLIBC = "bookworm", "3.11", (2, 36)  # 64-bit Raspberry Pi OS 12
PACKAGES = "python3,libstdc++6"
MIRROR = os.environ.get("PI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
EXTRAS = "tflite,onnx"
FORBIDDEN = {"tensorflow", "keras", "tf_keras", "tf2onnx"}
BROKEN_ONNXRUNTIME = "1.21.0"  # "Illegal instruction" on a Pi 4; the onnx extra excludes it too
CPUS = {  # QEMU_CPU: (/proc/cpuinfo "CPU part", features, board)
    "cortex-a72": ("0xd08", "fp asimd evtstrm crc32 cpuid", "Raspberry Pi 4 Model B, emulated by qemu"),
    "cortex-a76": ("0xd0b", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                   "asimdrdm lrcpc dcpop asimddp", "Raspberry Pi 5 Model B, emulated by qemu"),
}
PREDICTED = ("tflite-int8", "onnx-int8", "onnx")
EVALUATED = ("onnx", "tflite-int8")  # the slowest under emulation first
FLOAT_TOLERANCE = 1e-5  # probability
ACCURACY_TOLERANCE = 0.0005  # 0.05 points
IDX_IMAGES = 64
BENCH_IMAGES = 200
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").iterdir() if p.suffix != ".md")

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


class CheckFailed(Exception):
    """A step that could not run at all (the comparisons collect their problems instead)."""


def platform_tags(glibc: tuple[int, int] = GLIBC) -> list[str]:
    """Every aarch64 manylinux tag a system with this glibc accepts. pip does not expand a tag
    downwards, and ai-edge-litert 2.x wheels carry only manylinux_2_27: a shorter list makes
    pip pick ai-edge-litert 1.4.0 without a word."""
    return ["manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, glibc[1] + 1))]


def pip_target(glibc: tuple[int, int] = GLIBC) -> list[str]:
    """pip options that resolve wheels for CPython 3.11 on aarch64 Linux, binary only."""
    options = ["--only-binary=:all:", "--python-version", PYTHON, "--implementation", "cp",
               "--abi", "cp" + PYTHON.replace(".", "")]
    for tag in platform_tags(glibc):
        options += ["--platform", tag]
    return options


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise CheckFailed(f"{' '.join(map(str, argv[:4]))} … failed ({result.returncode}):\n{result.stderr.strip()[-3000:]}")
    return result


def _pip(*args) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args])


def resolve(requirement: str, glibc: tuple[int, int] = GLIBC) -> dict[str, str]:
    """{package: version} that pip installs for the target, found without installing anything."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "--quiet", "--dry-run", "--ignore-installed", "--report", report, *pip_target(glibc), requirement)
        items = json.loads(report.read_text())["install"]
    return {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"] for i in items}


def check_resolution(packages: dict[str, str]) -> list[str]:
    """What is wrong with a resolved runtime install: TensorFlow, an old LiteRT, a bad onnxruntime."""
    problems = [f"{name} {version} would be installed: the runtime must run without it"
                for name, version in packages.items() if name.replace("-", "_") in FORBIDDEN or name.startswith("tensorflow")]
    litert = packages.get("ai-edge-litert")
    if litert is None or int(litert.split(".")[0]) < 2:
        problems.append(f"ai-edge-litert {litert or 'missing'}: expected 2.0 or newer")
    onnxruntime = packages.get("onnxruntime")
    if onnxruntime is None or onnxruntime == BROKEN_ONNXRUNTIME:
        problems.append(f"onnxruntime {onnxruntime or 'missing'}: expected a release that runs on a Pi 4")
    return problems


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def build_sysroot(cache: Path) -> Path:
    """The arm64 userland, unpacked only (nothing runs during the build); built once."""
    root = cache / f"{SUITE}-arm64-{_key(PACKAGES, MIRROR)}"
    if (root / f"usr/bin/python{PYTHON}").is_file():
        return root
    staging = cache / f".{root.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run(["mmdebstrap", "--quiet", "--arch=arm64", "--variant=extract", f"--include={PACKAGES}", SUITE, staging, MIRROR])
    staging.rename(root)
    return root


def build_site(cache: Path, packages: dict[str, str], wheel: Path, work: Path) -> list[Path]:
    """PYTHONPATH for the guest: the fmnist wheel (fresh every run), then its dependencies
    (pinned to the resolved versions, kept while those and the target stay the same)."""
    pins = sorted(f"{name}=={version}" for name, version in packages.items() if name != "fmnist")
    deps = cache / f"site-{_key(pins, pip_target())}"
    if not deps.is_dir():
        for old in cache.glob("site-*"):  # older pins
            shutil.rmtree(old)
        staging = cache / ".site.partial"
        shutil.rmtree(staging, ignore_errors=True)
        _pip("install", "--quiet", "--no-deps", "--target", staging, *pip_target(), *pins)
        staging.rename(deps)
    project = work / "fmnist-site"
    _pip("install", "--quiet", "--no-deps", "--target", project, wheel)
    return [project, deps]


def cpuinfo(cpu: str, cores: int) -> str:
    """/proc/cpuinfo of a Raspberry Pi with this core: onnxruntime segfaults under qemu when it
    reads the host's x86 one."""
    part, features, board = CPUS[cpu]
    core = (f"BogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
            f"CPU variant\t: 0x0\nCPU part\t: {part}\nCPU revision\t: 1\n")
    return "".join(f"processor\t: {i}\n{core}\n" for i in range(cores)) + f"Model\t\t: {board}\n"


def qemu() -> str:
    for name in ("qemu-aarch64-static", "qemu-aarch64"):
        if shutil.which(name):
            return name
    raise CheckFailed("qemu-aarch64-static not found: apt-get install qemu-user-static")


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

    def run(self, cpu: str | None, args: list) -> tuple[subprocess.CompletedProcess, dict]:
        """(the finished process, its probe); cpu None runs natively."""
        handle, name = tempfile.mkstemp(".json", "probe-", self.work)
        os.close(handle)
        probe = Path(name)
        if cpu is None:
            argv, env = [sys.executable], None
        else:
            root = self.roots[cpu]
            argv = [qemu(), "-L", root, root / f"usr/bin/python{PYTHON}"]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(self.work), "LANG": "C.UTF-8", "QEMU_CPU": cpu,
                   "PYTHONPATH": os.pathsep.join(map(str, self.site))}
        result = subprocess.run([str(a) for a in [*argv, "-c", GUEST, probe, *args]], env=env, cwd=self.work,
                                capture_output=True, text=True)
        if result.returncode or not probe.stat().st_size:
            raise CheckFailed(f"fmnist {' '.join(map(str, args))} on {cpu or 'x86'} failed ({result.returncode}):\n"
                              f"{result.stderr.strip()[-3000:]}")
        return result, json.loads(probe.read_text())


def check_probe(probe: dict, where: str) -> list[str]:
    problems = [] if probe["machine"] == "aarch64" else [f"{where}: platform.machine() is {probe['machine']!r}"]
    return problems + [f"{where}: imported {module}" for module in probe["forbidden"]]


def compare_predictions(native: str, emulated: str, float_model: bool) -> dict:
    """Two `fmnist predict --json --top-k 10` outputs: the labels must be equal and, for a
    float model, every probability within FLOAT_TOLERANCE."""
    ours, theirs = ([json.loads(line) for line in text.splitlines() if line.strip()] for text in (native, emulated))
    problems = []
    if [r["file"] for r in ours] != [r["file"] for r in theirs]:
        problems.append(f"different images: {len(ours)} natively, {len(theirs)} emulated")
    if not ours:
        problems.append("no predictions to compare")
    largest = 0.0
    for a, b in zip(ours, theirs):
        if a["label"] != b["label"]:
            problems.append(f"{a['file']}: {a['class']} natively, {b['class']} emulated")
        p, q = ({r["label"]: r["probability"] for r in row["top_k"]} for row in (a, b))
        largest = max(largest, *(abs(p[c] - q.get(c, 0.0)) for c in p))
    if float_model and largest > FLOAT_TOLERANCE:
        problems.append(f"float probabilities differ by {largest:.2g} (tolerance {FLOAT_TOLERANCE:g})")
    return {"images": len(ours), "max_probability_difference": largest, "problems": problems}


def compare_evaluations(native: dict, emulated: dict) -> dict:
    """Two `fmnist evaluate --json` results: the emulated accuracy must be the manifest's, or
    within ACCURACY_TOLERANCE, and every image predicted differently is listed."""
    expected, accuracy = emulated["manifest_accuracy"], emulated["accuracy"]
    differing = [{"index": i, "native": a, "emulated": b}
                 for i, (a, b) in enumerate(zip(native["predicted"], emulated["predicted"])) if a != b]
    problems = []
    if not len(native["predicted"]) == len(emulated["predicted"]) == emulated["images"] == 10000:
        problems.append(f"{emulated['model']}: {emulated['images']} images emulated, {native['images']} natively, expected 10000")
    if expected is None:
        problems.append(f"{emulated['model']}: no manifest accuracy to compare with")
    elif abs(accuracy - expected) > ACCURACY_TOLERANCE + 1e-9:
        problems.append(f"{emulated['model']}: {accuracy:.2%} emulated, {expected:.2%} in the manifest "
                        f"({len(differing)} images predicted differently)")
    return {"accuracy": accuracy, "native_accuracy": native["accuracy"], "manifest_accuracy": expected,
            "images": emulated["images"], "differing_images": differing, "problems": problems}


def load_alignments(path: Path) -> list[int]:
    """p_align of every PT_LOAD segment of a 64-bit little-endian ELF file ([] for other files)."""
    with path.open("rb") as file:
        header = file.read(64)
        if len(header) < 64 or header[:6] != b"\x7fELF\x02\x01":
            return []
        (offset,), (size, count) = struct.unpack_from("<Q", header, 0x20), struct.unpack_from("<HH", header, 0x36)
        file.seek(offset)
        table = file.read(size * count)
    entries = [table[i * size:(i + 1) * size] for i in range(count)]
    return [struct.unpack_from("<Q", entry, 0x30)[0] for entry in entries if struct.unpack_from("<I", entry)[0] == 1]


def check_page_size(site: list[Path], page: int = 16384) -> dict:
    """Raspberry Pi 5 kernels use 16 KiB pages, which qemu-user cannot emulate: a shared library
    loads there only if every LOAD segment is aligned to at least that."""
    libraries = {path: load_alignments(path) for folder in site for path in folder.rglob("*.so*") if path.is_file()}
    libraries = {path: aligns for path, aligns in libraries.items() if aligns}
    problems = [f"{path.name}: LOAD segments aligned to {min(aligns):#x}, below {page // 1024} KiB pages"
                for path, aligns in libraries.items() if min(aligns) < page]
    if not libraries:
        problems.append("no shared libraries found to check")
    return {"check": "16 KiB pages (Pi 5)", "cpu": "–", "libraries": len(libraries),
            "min_alignment": min((min(a) for a in libraries.values()), default=None), "problems": problems}


def write_idx(path: Path, images) -> Path:
    """An IDX3 file of uint8 [N, 28, 28] images, as `fmnist predict` reads them."""
    path.write_bytes((0x0803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in images.shape)
                     + images.tobytes())
    return path


class Run:
    """One whole check: prepare the emulated Pi, run every command on both sides, compare."""

    def __init__(self, out: Path, cache: Path, data_dir: str | None):
        from rich.console import Console

        from fmnist import data, machine

        self.out, self.cache, self.data_dir = out, cache, data.find(data_dir)
        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
        self.started = time.perf_counter()
        self.summary: dict = {"target": f"Debian {SUITE} arm64, CPython {PYTHON}, qemu-user", "host": machine.describe()}

    def step(self, text: str) -> None:
        from rich.markup import escape

        self.console.print(f"[dim]{time.perf_counter() - self.started:6.1f} s[/]  {escape(text)}")

    def prepare(self, work: Path) -> Machines:
        """The fmnist wheel, its aarch64 dependencies and the arm64 userland."""
        self.step("building the fmnist wheel")
        source = work / "source"  # a copy: an in-tree build would reuse build/lib and its stale files
        shutil.copytree(ROOT / "fmnist", source / "fmnist", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source)
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", work / "wheel", source)
        wheel = next((work / "wheel").glob("fmnist-*.whl"))
        self.step(f"resolving fmnist[{EXTRAS}] for cp311 manylinux aarch64 (glibc {GLIBC[0]}.{GLIBC[1]})")
        packages = self.summary["packages"] = resolve(f"fmnist[{EXTRAS}] @ {wheel.as_uri()}")
        problems = check_resolution(packages)
        if problems:
            raise CheckFailed("; ".join(problems))
        self.step(f"arm64 userland (mmdebstrap) and wheels (pip --target), cached in {self.cache}")
        machines = Machines(build_sysroot(self.cache), build_site(self.cache, packages, wheel, work), work)
        self.summary["qemu"] = _run([qemu(), "--version"]).stdout.splitlines()[0]
        return machines

    def predict(self, machines: Machines, model: str, cpu: str, inputs: list[str], native: str) -> dict:
        self.step(f"predict, {model}, {cpu}")
        emulated, probe = machines.run(cpu, predict_args(model, inputs))
        result = compare_predictions(native, emulated.stdout, float_model="int8" not in model)
        result["problems"] += check_probe(probe, f"predict {model} on {cpu}")
        return {"check": f"predict {model}", "cpu": cpu, **result}

    def evaluate(self, machines: Machines, model: str, cpu: str) -> dict:
        self.step(f"evaluate, {model}, {cpu}: 10,000 images")
        results, probes = {}, {}
        for where in (None, cpu):
            path = machines.work / f"evaluate-{model}-{where or 'native'}.json"
            _, probes[where] = machines.run(where, ["evaluate", model, "--threads", "1", "--json", path, "--data-dir", self.data_dir])
            results[where] = json.loads(path.read_text())
        result = compare_evaluations(results[None], results[cpu])
        result["problems"] += check_probe(probes[cpu], f"evaluate {model} on {cpu}")
        return {"check": f"evaluate {model}", "cpu": cpu, **result}

    def bench(self, machines: Machines, cpu: str) -> dict:
        from fmnist.machine import ARM_PARTS
        from fmnist.runtime.classifier import DEFAULT_MODEL_DIR

        self.step(f"bench --quick, {cpu} (accuracy on {BENCH_IMAGES:,} images, no cold start)")
        emulated, probe = machines.run(cpu, [
            "bench", "--quick", "--cold-starts", "0", "--images", BENCH_IMAGES, "--data-dir", self.data_dir,
            "--emulated", f"{self.summary['qemu'].split(' (')[0]}, -cpu {cpu}", "--out", self.out / "bench"])
        report = json.loads((self.out / "bench/bench.json").read_text())
        shipped = {f"default/{name}" for name in json.loads((DEFAULT_MODEL_DIR / "manifest.json").read_text())["artifacts"]}
        problems = check_probe(probe, f"bench on {cpu}")
        if {row["artifact"] for row in report["rows"]} != shipped:
            problems.append(f"bench measured {sorted(r['artifact'] for r in report['rows'])}, not {sorted(shipped)}")
        if "EMULATED" not in emulated.stdout or not report["machine"].get("emulated"):
            problems.append("bench did not mark its timings as emulated")
        core = ARM_PARTS[CPUS[cpu][0]]
        if core not in report["machine"]["cpu"]:  # the guest saw another /proc/cpuinfo than the Pi's
            problems.append(f"bench ran on {report['machine']['cpu']!r}, not a {core}")
        return {"check": "bench --quick", "cpu": cpu, "rows": len(report["rows"]), "machine": report["machine"],
                "output": emulated.stdout, "problems": problems}

    def __call__(self) -> list[str]:
        """Every check; the problems found."""
        from fmnist import data

        (self.out / "summary.json").unlink(missing_ok=True)  # a failed run leaves no old verdict behind
        shutil.rmtree(self.out / "bench", ignore_errors=True)
        self.out.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="fmnist-pi-") as tmp, (self.cache / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time builds and reads the cache
            work = Path(tmp)
            machines = self.prepare(work)
            x_test, _ = data.load_test(self.data_dir)
            inputs = [*EXAMPLES, str(write_idx(work / "test-64-images-idx3-ubyte", x_test[:IDX_IMAGES]))]
            natives = {model: machines.run(None, predict_args(model, inputs))[0].stdout for model in PREDICTED}
            pi4 = next(iter(CPUS))
            jobs = [*(partial(self.evaluate, machines, model, pi4) for model in EVALUATED),
                    partial(self.bench, machines, pi4),  # the longest first
                    *(partial(self.predict, machines, model, cpu, inputs, natives[model])
                      for model in PREDICTED for cpu in CPUS)]
            with ThreadPoolExecutor(max_workers=2) as pool:  # qemu-user: a guest thread per host thread
                futures = [pool.submit(job) for job in jobs]
                wait(futures, return_when=FIRST_EXCEPTION)
                pool.shutdown(cancel_futures=True)  # a step that could not run stops the rest
                checks = [check_page_size(machines.site), *(future.result() for future in futures)]
        sys.stdout.write(next(c.pop("output") for c in checks if "output" in c))
        problems = [problem for check in checks for problem in check["problems"]]
        self.summary.update(checks=checks, problems=problems, seconds=round(time.perf_counter() - self.started, 1))
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2) + "\n")
        self.report()
        return problems

    def report(self) -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="emulated aarch64 against native x86", title_justify="left")
        for column in ("check", "qemu cpu", "images", "result"):
            table.add_column(column, justify="right" if column == "images" else "left")
        for check in self.summary["checks"]:
            if "max_probability_difference" in check:
                detail = f"labels equal, max |Δp| {check['max_probability_difference']:.1e}"
            elif "libraries" in check:
                detail = f"{check['libraries']} shared libraries, LOAD segments aligned to ≥ {check['min_alignment'] // 1024} KiB"
            elif "accuracy" in check:
                detail = (f"{check['accuracy']:.2%} (x86 {check['native_accuracy']:.2%}, manifest "
                          f"{check['manifest_accuracy']:.2%}), {len(check['differing_images'])} images differ")
            else:
                detail = f"{check['rows']} rows on {check['machine']['arch']}, timings marked emulated"
            status = f"[red]FAIL[/] {escape('; '.join(check['problems']))}" if check["problems"] else f"[green]ok[/] {detail}"
            table.add_row(check["check"], check["cpu"], str(check.get("images", "")), status)
        self.console.print(table)
        packages = self.summary["packages"]
        verdict = "[red]FAILED[/]" if self.summary["problems"] else "[green]passed[/]"
        self.console.print(
            f"emulated Raspberry Pi check {verdict} in {self.summary['seconds']:.0f} s; "
            + ", ".join(f"{k} {packages[k]}" for k in ("onnxruntime", "ai-edge-litert", "numpy", "pillow"))
            + f"; {self.summary['qemu']}; summary in {self.out / 'summary.json'}")


def predict_args(model: str, inputs: list[str]) -> list:
    return ["predict", "--json", "--top-k", "10", "--model", model, *inputs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build/pi-emulated", help="summary.json and the bench report")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/fmnist-pi-emulated",
                        help="the arm64 userland and the resolved wheels, kept between runs")
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
