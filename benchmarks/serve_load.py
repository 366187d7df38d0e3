"""Load test of `fmnist serve`: concurrent keep-alive clients sending requests as fast as answers come.

Usage: python benchmarks/serve_load.py [--clients 32] [--seconds 10] [--batch 32] [--out FILE.json]
       [-- fmnist serve options]

Starts `fmnist serve` (this interpreter's fmnist, the shipped model unless the options name one)
on a free local port, then, one after the other, opens `--clients` connections (plain asyncio
streams) that each send one kind of request again and again for `--seconds`, checking every
answer:

- `live`: GET /v2/health/live, the cheapest answer there is: the client's own ceiling, so that
  the other figures are shown not to be the client's;
- `predict`: POST /predict of examples/shirt.jpg (a photo: decoded, fitted, classified);
- `infer`: POST /v2/models/fmnist/infer of `--batch` test images as binary tensor data (what
  tritonclient sends), logits back as binary.

Beside them, in the same run, the bare runtime's own call (`Backend.bare()`, one thread) at the
same batch size, for the images per second the service is compared with. Reports requests per
second, images per second, p50 / p99 latency, errors and the server's resident memory after each
(VmRSS from /proc). Client and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from fmnist import folders, machine
from fmnist.bench import measure
from fmnist.runtime import Classifier

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "shirt.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _binary_logits(batch: int, head: bytes, body: bytes) -> bool:
    """Whether an infer answer is a JSON header of the length it declares, then `batch` × 10 float32 logits."""
    declared = [line for line in head.lower().split(b"\r\n") if line.startswith(b"inference-header-content-length")]
    return bool(declared) and len(body) == int(declared[0].split(b":")[1]) + batch * 10 * 4


def requests(port: int, batch: int) -> dict[str, tuple[bytes, Callable[[bytes, bytes], bool], int]]:
    """Each kind of request: its bytes, how its answer is checked (head, body), the images it carries."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    photo = PHOTO.read_bytes()
    pixels = np.resize(folders.read_golden(folders.SHIPPED).images, (batch, 28, 28, 1))
    header = json.dumps(
        {
            "inputs": [{"name": "pixels", "datatype": "UINT8", "shape": list(pixels.shape),
                        "parameters": {"binary_data_size": pixels.size}}],
            "outputs": [{"name": "logits", "parameters": {"binary_data": True}}],
        }
    ).encode()  # fmt: skip
    body = header + pixels.tobytes()
    return {
        "live": (f"GET /v2/health/live HTTP/1.1\r\n{host}\r\n".encode(), lambda h, b: b == b'{"live":true}', 0),
        "predict": (
            f"POST /predict HTTP/1.1\r\n{host}Content-Type: image/jpeg\r\nContent-Length: {len(photo)}\r\n\r\n".encode()
            + photo,
            lambda h, b: b'"class":"Shirt"' in b,
            1,
        ),
        "infer": (
            f"POST /v2/models/fmnist/infer HTTP/1.1\r\n{host}Content-Type: application/octet-stream\r\n"
            f"Inference-Header-Content-Length: {len(header)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body,
            partial(_binary_logits, batch),
            batch,
        ),
    }


async def client(port: int, request: bytes, valid: Callable[[bytes, bytes], bool], stop: Callable[[], bool],
                 latencies: list[float]) -> int:  # fmt: skip
    """One keep-alive connection sending `request` until `stop()`; the answers that were wrong."""
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop():
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            errors += not (head.startswith(b"HTTP/1.1 200") and valid(head, body))
    finally:
        writer.close()
    return errors


async def load(
    port: int, kind: tuple[bytes, Callable[[bytes, bytes], bool], int], clients: int, seconds: float
) -> dict:
    """`clients` connections send one kind of request for `seconds`."""
    request, valid, images = kind
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    errors = sum(
        await asyncio.gather(
            *(client(port, request, valid, lambda: time.perf_counter() > deadline, latencies) for _ in range(clients))
        )
    )
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "images_per_s": round(images * len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def bare_runtime(model: str | None, batch: int) -> dict:
    """The shipped (or named) model's own runtime call at `batch` images, one thread: images per second."""
    classifier = Classifier.load(model, 1)
    pixels = np.resize(folders.read_golden(folders.SHIPPED).images, (2048, 28, 28, 1))
    per_second = measure.throughput(classifier.backend.bare(), pixels, batch, measure.Budget())
    return {"model": classifier.path.name, "runtime": classifier.runtime, "batch": batch, "images_per_s": per_second}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out")
    parser.add_argument("serve", nargs="*", help="options for fmnist serve")
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-m", "fmnist", "serve", "--port", str(port), *args.serve]
    model = next((args.serve[i + 1] for i, a in enumerate(args.serve[:-1]) if a in ("--model", "-m")), None)
    bare_before = bare_runtime(model, args.batch)
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    results, rss = {}, {}
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        kinds = requests(port, args.batch)
        for name, kind in kinds.items():
            asyncio.run(load(port, kind, 4, 1))  # warm-up: first calls, thread pool, allocator
            results[name] = asyncio.run(load(port, kind, args.clients, args.seconds))
            rss[name] = round(rss_mb(server.pid) + sum(rss_mb(p) for p in children(server.pid)), 1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare_after = bare_runtime(model, args.batch)
    bare = (bare_before["images_per_s"] + bare_after["images_per_s"]) / 2
    report = {
        "command": " ".join(command[1:]),
        "clients": args.clients,
        "results": results,
        "bare_runtime": {
            **bare_before,
            "images_per_s": round(bare, 1),
            "before": bare_before["images_per_s"],
            "after": bare_after["images_per_s"],
        },
        "infer_share_of_bare": round(results["infer"]["images_per_s"] / bare, 3),
        "rss_mb_after": rss,
        "server_exit_code": server.returncode,
        "machine": machine.describe(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)


def children(pid: int) -> list[int]:
    """The worker processes of a server started with --workers."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
