"""One whole check: prepare the emulated Pi, run every command on both sides, compare."""

from __future__ import annotations

import fcntl
import json
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pi_emulated import report
from pi_emulated.compare import compare_evaluations, compare_predictions
from pi_emulated.guest import Machines, check_probe, predict_args
from pi_emulated.pages import check_page_size
from pi_emulated.target import CPUS, EXTRAS, GLIBC, PYTHON, ROOT, SUITE, CheckFailed, run_checked
from pi_emulated.userland import build_sysroot, qemu
from pi_emulated.wheels import build_site, check_resolution, pip, resolve

if TYPE_CHECKING:
    import numpy

PREDICTED = ("tflite-int8", "onnx-int8", "onnx")
EVALUATED = ("onnx", "tflite-int8")  # the slowest under emulation first
IDX_IMAGES = 64
BENCH_IMAGES = 200
SERVE_WAIT = 180  # seconds an emulated service may take to answer its first request
EXAMPLES = sorted(str(p) for p in (ROOT / "examples").iterdir() if p.suffix != ".md")


def infer_binary(port: int, photo: str) -> str:
    """The class a service on `port` gives `photo`'s pixels sent as binary tensor data by tritonclient."""
    import tritonclient.http as triton

    from fmnist import contract
    from fmnist.runtime import load_image

    pixels = load_image(photo)[None, ..., None]
    given = triton.InferInput(contract.INPUT_NAME, list(pixels.shape), "UINT8")
    given.set_data_from_numpy(pixels, binary_data=True)
    client = triton.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=60)
    logits = client.infer("fmnist", [given]).as_numpy(contract.OUTPUT_NAME)
    return contract.CLASS_NAMES[int(logits.argmax())]


def write_idx(path: Path, images: numpy.ndarray) -> Path:
    """An IDX3 file of uint8 [N, 28, 28] images, as `fmnist predict` reads them."""
    path.write_bytes(
        (0x0803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in images.shape) + images.tobytes()
    )
    return path


class Run:
    """One whole check: prepare the emulated Pi, run every command on both sides, compare."""

    def __init__(self, out: Path, cache: Path, data_dir: str | None):
        from rich.console import Console

        from fmnist import data, machine

        self.out, self.cache, self.data_dir = out, cache, data.find(data_dir)
        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
        self.started = time.perf_counter()
        self.summary: dict = {
            "target": f"Debian {SUITE} arm64, CPython {PYTHON}, qemu-user",
            "host": machine.describe(),
        }

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
        pip("wheel", "--quiet", "--no-deps", "--wheel-dir", work / "wheel", source)
        wheel = next((work / "wheel").glob("fmnist-*.whl"))
        self.step(f"resolving fmnist[{EXTRAS}] for cp311 manylinux aarch64 (glibc {GLIBC[0]}.{GLIBC[1]})")
        packages = self.summary["packages"] = resolve(f"fmnist[{EXTRAS}] @ {wheel.as_uri()}")
        problems = check_resolution(packages)
        if problems:
            raise CheckFailed("; ".join(problems))
        self.step(f"arm64 userland (mmdebstrap) and wheels (pip --target), cached in {self.cache}")
        machines = Machines(build_sysroot(self.cache), build_site(self.cache, packages, wheel, work), work)
        self.summary["qemu"] = run_checked([qemu(), "--version"]).stdout.splitlines()[0]
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
            _, probes[where] = machines.run(
                where, ["evaluate", model, "--threads", "1", "--json", path, "--data-dir", self.data_dir]
            )
            results[where] = json.loads(path.read_text())
        result = compare_evaluations(results[None], results[cpu])
        result["problems"] += check_probe(probes[cpu], f"evaluate {model} on {cpu}")
        return {"check": f"evaluate {model}", "cpu": cpu, **result}

    def golden(self, machines: Machines, cpu: str) -> dict:
        """`fmnist check` of the shipped model: its golden vectors, computed again on the Pi."""
        self.step(f"check (golden vectors), {cpu}")
        try:
            emulated, probe = machines.run(cpu, ["check"])
        except CheckFailed as exc:  # a failed check exits 1: a problem to report, not a step that could not run
            return {"check": "check (golden vectors)", "cpu": cpu, "passed": 0, "problems": [str(exc)]}
        problems = check_probe(probe, f"check on {cpu}")
        passed = emulated.stdout.count("\nok ") + emulated.stdout.startswith("ok ")
        if "check passed" not in emulated.stdout or passed != len(PREDICTED):
            problems.append(f"check on {cpu}: {emulated.stdout.strip()[-500:]}")
        return {"check": "check (golden vectors)", "cpu": cpu, "passed": passed, "problems": problems}

    def serve(self, machines: Machines, cpu: str, expected: str) -> dict:
        """`fmnist serve` on the Pi: one photo over HTTP gets the class x86 gives it, through `/predict` and as
        binary tensor data through the Open Inference Protocol (tritonclient)."""
        self.step(f"serve, {cpu}: {Path(EXAMPLES[0]).name} over HTTP")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        process, probe = machines.start(cpu, ["serve", "--port", port])
        problems, answer = [], None
        try:
            for _ in range(SERVE_WAIT):  # an emulated start takes seconds
                try:
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/predict", data=Path(EXAMPLES[0]).read_bytes(),
                        headers={"Content-Type": "application/octet-stream"},
                    )  # fmt: skip
                    with urllib.request.urlopen(request, timeout=30) as response:
                        answer = json.loads(response.read())["results"][0]["class"]
                    break
                except OSError:
                    time.sleep(1)
            try:
                tensor_answer = infer_binary(port, EXAMPLES[0]) if answer is not None else None
            except Exception as exc:  # noqa: BLE001 -- tritonclient raises its own kinds and the socket's
                tensor_answer = f"an error: {exc}"
            if answer is not None and tensor_answer != expected:
                problems.append(f"serve on {cpu}: the protocol's binary request answered {tensor_answer!r}, x86 says "
                                f"{expected!r}")  # fmt: skip
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
        if answer != expected:
            said = process.stderr.read()[-500:] if process.stderr else ""
            problems.append(f"serve on {cpu}: answered {answer!r}, x86 says {expected!r} ({said})")
        if code or not probe.stat().st_size:
            problems.append(f"serve on {cpu}: exit code {code} after SIGTERM")
        else:
            problems += check_probe(json.loads(probe.read_text()), f"serve on {cpu}")
        return {"check": "serve (one photo over HTTP, as a file and as a tensor)", "cpu": cpu, "answer": answer,
                "problems": problems}  # fmt: skip

    def bench(self, machines: Machines, cpu: str) -> dict:
        from fmnist.machine import ARM_PARTS

        self.step(f"bench --quick, {cpu} (accuracy on {BENCH_IMAGES:,} images, no cold start)")
        emulated, probe = machines.run(
            cpu,
            [
                "bench",
                "--quick",
                "--cold-starts",
                "0",
                "--images",
                BENCH_IMAGES,
                "--data-dir",
                self.data_dir,
                "--emulated",
                f"{self.summary['qemu'].split(' (')[0]}, -cpu {cpu}",
                "--out",
                self.out / "bench",
            ],
        )
        report = json.loads((self.out / "bench/bench.json").read_text())
        shipped = {f"default/{name}" for name in PREDICTED}  # tflm and c: no runtime in the emulated userland
        problems = check_probe(probe, f"bench on {cpu}")
        if {row["artifact"] for row in report["rows"]} != shipped:
            problems.append(f"bench measured {sorted(r['artifact'] for r in report['rows'])}, not {sorted(shipped)}")
        if "EMULATED" not in emulated.stdout or not report["machine"].get("emulated"):
            problems.append("bench did not mark its timings as emulated")
        core = ARM_PARTS[CPUS[cpu][0]]
        if core not in report["machine"]["cpu"]:  # the guest saw another /proc/cpuinfo than the Pi's
            problems.append(f"bench ran on {report['machine']['cpu']!r}, not a {core}")
        return {
            "check": "bench --quick",
            "cpu": cpu,
            "rows": len(report["rows"]),
            "machine": report["machine"],
            "output": emulated.stdout,
            "problems": problems,
        }

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
            jobs = [
                *(partial(self.evaluate, machines, model, pi4) for model in EVALUATED),
                partial(self.bench, machines, pi4),  # the longest first
                *(partial(self.golden, machines, cpu) for cpu in CPUS),
                partial(self.serve, machines, pi4, json.loads(natives["tflite-int8"].splitlines()[0])["class"]),
                *(
                    partial(self.predict, machines, model, cpu, inputs, natives[model])
                    for model in PREDICTED
                    for cpu in CPUS
                ),
            ]
            with ThreadPoolExecutor(max_workers=2) as pool:  # qemu-user: a guest thread per host thread
                futures = [pool.submit(job) for job in jobs]
                wait(futures, return_when=FIRST_EXCEPTION)
                pool.shutdown(cancel_futures=True)  # a step that could not run stops the rest
                checks = [check_page_size(machines.site), *(future.result() for future in futures)]
        sys.stdout.write(next(c.pop("output") for c in checks if "output" in c))
        problems = [problem for check in checks for problem in check["problems"]]
        self.summary.update(checks=checks, problems=problems, seconds=round(time.perf_counter() - self.started, 1))
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=2) + "\n")
        report.show(self.console, self.summary, self.out)
        return problems
