"""`fmnist serve`: the model over HTTP, with a web page, health and metrics (runtime only)."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Annotated, Any

import typer

from fmnist.cli.common import ModelOption, Threads, err, needs_extra, user_errors


def serve(
    model: ModelOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 opens it to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    threads: Threads = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="FMNIST_API_KEY",
            show_envvar=True,
            show_default=False,
            help="Require Authorization: Bearer KEY for /predict and /metrics.",
        ),
    ] = None,
    cors_origin: Annotated[
        str | None, typer.Option(help="The one web origin allowed to call it from a browser.", show_default=False)
    ] = None,
    max_bytes: Annotated[int, typer.Option(min=1024, help="Largest request body, in bytes.")] = 10 * 1024 * 1024,
    max_batch: Annotated[int, typer.Option(min=1, help="Most images in one Open Inference Protocol request.")] = 256,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes answering on the one port, each with the model loaded (uvicorn's).")
    ] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request.")] = False,
) -> None:
    """Serve the model over HTTP: POST /predict (photos), GET / (a web page), /healthz, /metrics, and the Open
    Inference Protocol (/v2/..., what Triton's and KServe's clients speak)."""
    from fmnist.runtime.classifier import Classifier

    with user_errors():
        with needs_extra("serve", "fmnist serve"):
            import uvicorn

            from fmnist.serve import create_app
            from fmnist.serve.app import MAX_HEADER_BYTES, SETTINGS
        classifier = Classifier.load(model, threads)
        options: dict[str, Any] = {
            "api_key": api_key, "cors_origin": cors_origin, "max_bytes": max_bytes, "max_batch": max_batch
        }  # fmt: skip
        app = create_app(classifier, **options)
    guard = "an API key is required" if api_key else "no API key"
    processes = f", {workers} processes" if workers > 1 else ""
    err.print(
        f"serving {classifier.path.name} ({classifier.runtime}, {classifier.precision}) on http://{host}:{port} "
        f"({guard}{processes}; Ctrl-C or SIGTERM stops it)",
        highlight=False,
    )
    if workers > 1:  # uvicorn's supervisor starts each worker from the import string, which reads these
        os.environ[SETTINGS] = json.dumps({"model": str(classifier.path), "threads": threads, **options})
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again: end with 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        app if workers == 1 else "fmnist.serve.app:from_environment", factory=workers > 1, workers=workers,
        host=host, port=port, log_level="info" if verbose else "warning", access_log=verbose,
        timeout_graceful_shutdown=10,  # SIGTERM: the requests in flight finish first
        limit_concurrency=256, timeout_keep_alive=5,
        # header limit: h11 refuses a request head still arriving past it, the app (HeaderLimit) one that came whole
        http="h11", h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )  # fmt: skip
