"""Load test of `fmnist serve`: concurrent clients posting a photo, as fast as answers come.

Usage: python benchmarks/serve_load.py [--clients 32] [--seconds 20] [--requests 10000] [--out FILE.json]
       [-- fmnist serve options]

Starts `fmnist serve` (this interpreter's fmnist) on a free local port, then opens
`--clients` keep-alive connections (plain asyncio streams: the client costs far less than the
server) that each post examples/shirt.jpg again and again, checking every answer: for
`--seconds`, then for `--requests` requests in all. Reports requests per second, p50 / p99 latency, errors and the
server's resident memory before, between and after (VmRSS from /proc). Client and server
share this machine's cores.
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
from pathlib import Path

import numpy as np

from fmnist import machine

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "shirt.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def client(host: str, port: int, request: bytes, stop: Callable[[], bool], latencies: list[float]) -> int:
    """One keep-alive connection posting `request` until `stop()`; the answers that were wrong."""
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
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
            errors += not (head.startswith(b"HTTP/1.1 200") and b'"class":"Shirt"' in body)
    finally:
        writer.close()
    return errors


async def load(port: int, clients: int, seconds: float | None, requests: int | None) -> dict:
    """`clients` connections post the photo until the time or the request budget runs out."""
    body = PHOTO.read_bytes()
    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    deadline = time.perf_counter() + (seconds or 1e9)

    def stop() -> bool:
        return time.perf_counter() > deadline or (requests is not None and len(latencies) >= requests)

    started = time.perf_counter()
    errors = sum(await asyncio.gather(*(client("127.0.0.1", port, request, stop, latencies) for _ in range(clients))))
    elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--out")
    parser.add_argument("serve", nargs="*", help="options for fmnist serve")
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-m", "fmnist", "serve", "--port", str(port), *args.serve]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(load(port, 4, None, 200))  # warm-up: first calls, thread pool, allocator
        before = rss_mb(server.pid)
        timed = asyncio.run(load(port, args.clients, args.seconds, None))
        between = rss_mb(server.pid)
        counted = asyncio.run(load(port, args.clients, None, args.requests))
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {
        "command": " ".join(command[1:]),
        "clients": args.clients,
        "timed": timed,
        "counted": counted,
        "rss_mb": {"before": round(before, 1), "after_timed": round(between, 1), "after_counted": round(after, 1)},
        "rss_growth_mb_over_counted": round(after - between, 1),
        "server_exit_code": server.returncode,
        "machine": machine.describe(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
