"""`fmnist bench`: every format measured the same way, against the float model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from fmnist.cli.common import DataDir, RunsDir, Verbose, command_line, err, int_list, out, user_errors


def bench(
    targets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run or export folders, .onnx/.tflite/.keras files, format names of the shipped model "
            "(default: the newest run's export, else the shipped model).",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        str | None,
        typer.Option(help="Thread counts to measure, e.g. 1,2 (default: 1,2; --quick: 1).", show_default=False),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(help="Batch sizes for throughput (default: 1,32,256; --quick: 1,32).", show_default=False),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option(min=10, help="Timed batch-1 calls per row (default: 2000; --quick: 200).", show_default=False),
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(min=0, help="Untimed calls first (default: 50; --quick: 10).", show_default=False)
    ] = None,
    cold_starts: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Fresh processes per row for cold start and peak RSS; 0 skips (default: 5; --quick: 1).",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[bool, typer.Option(help="A fast check of the whole path (seconds per row).")] = False,
    keras: Annotated[
        bool,
        typer.Option("--keras/--no-keras", help="Measure the Keras float model too, when TensorFlow is installed."),
    ] = True,
    images: Annotated[
        int | None,
        typer.Option(
            min=100,
            max=10000,
            help="Score accuracy on the first N test images (default: all 10,000).",
            show_default=False,
        ),
    ] = None,
    emulated: Annotated[
        str | None,
        typer.Option(
            help="Running under an emulator, e.g. 'qemu-aarch64 cortex-a72': every timing is marked as emulated.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for bench.md, bench.csv, bench.json and plots.")
    ] = Path("bench"),
    runs_dir: RunsDir = Path("runs"),
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Latency, throughput, accuracy, size, cold start and memory of every format against the float model."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fmnist import data, quiet
    from fmnist.bench import report, suite
    from fmnist.bench import targets as bench_targets

    with user_errors():
        base = suite.QUICK if quick else suite.Settings()
        given = {"iterations": iterations, "warmup": warmup}
        settings = dataclasses.replace(
            base,
            threads=int_list(threads, "--threads", base.threads),
            batches=int_list(batch, "--batch", base.batches),
            budget=dataclasses.replace(base.budget, **{k: v for k, v in given.items() if v is not None}),
            cold_starts=base.cold_starts if cold_starts is None else cold_starts,
            keras=keras,
            images=images,
        )
        x_test, y_test = data.load_test(data_dir)
        groups = bench_targets.resolve(targets or [], runs_dir)
        quiet.silence(verbose)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        with progress:
            result = suite.run(
                groups,
                x_test[..., None],
                y_test,
                settings,
                progress=progress,
                emulated=emulated,
                command=command_line(),
                quick=quick,
            )
    written = report.write(result, out_dir)
    console = out if out.is_terminal else Console(soft_wrap=True, width=200)  # a log keeps every column
    for table in report.rich_tables(result):
        console.print(table)
    for note in result["notes"]:
        err.print(f"note: {note}", markup=False, highlight=False)
    err.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
