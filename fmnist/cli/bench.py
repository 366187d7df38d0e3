"""`fmnist bench`: every format measured the same way, against the float model;
`fmnist bench mcu`, the microcontroller formats on an emulated board; and `fmnist bench
compare`, reports side by side."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fmnist.cli import views
from fmnist.cli.common import DataDir, RunsDir, Verbose, command_line, err, int_list, needs_extra, out, user_errors


class _MeasureByDefault(TyperGroup):
    """`fmnist bench ARGS` measures; `fmnist bench compare ...` compares."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the click Context typer vendors
        if not args or args[0] not in self.commands:
            args = ["measure", *args]
        return super().parse_args(ctx, args)


Images = Annotated[
    int | None,
    typer.Option(
        min=100, max=10000, help="Score accuracy on the first N test images (default: all 10,000).", show_default=False
    ),
]

app = typer.Typer(
    cls=_MeasureByDefault,
    help="Latency, throughput, accuracy, size, cold start and memory of every format; "
    "`fmnist bench mcu` measures the microcontroller formats; `fmnist bench compare` sets reports side by side.",
)


@app.command("measure", hidden=True)
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
    profile: Annotated[
        bool, typer.Option(help="Also each artifact's time per operator (ONNX) or work per operator (TFLite).")
    ] = False,
    keras: Annotated[
        bool,
        typer.Option("--keras/--no-keras", help="Measure the Keras float model too, when TensorFlow is installed."),
    ] = True,
    images: Images = None,
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
    """Latency, throughput, accuracy, size, cold start and memory of every format against the float model.

    `fmnist bench compare BASE.json NEW.json` then shows what changed between two reports."""
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
            profile=profile,
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


@app.command()
def mcu(
    model: Annotated[
        Path | None,
        typer.Argument(
            help="A run or export folder with tflm and c artifacts (default: the newest run's export, else the "
            "shipped model).",
            show_default=False,
        ),
    ] = None,
    images: Images = None,
    board_images: Annotated[
        int, typer.Option(min=1, max=10000, help="Test images, from the first, for the C engine on the emulated board.")
    ] = 1000,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for mcu.md and mcu.json.")] = Path("bench"),
    work: Annotated[
        Path | None,
        typer.Option(help="Folder for the builds (default: a temporary one, removed).", show_default=False),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Flash, RAM, instructions per inference and accuracy of the microcontroller formats (tflm, c);
    the C engine measured on an emulated Cortex-M4F (qemu mps2-an386) when its tools are installed."""
    import tempfile

    from rich.console import Console

    from fmnist import data, folders, quiet
    from fmnist.bench.mcu import measure, report
    from fmnist.cli.stages import Stages

    with user_errors():
        x_test, y_test = data.load_test(data_dir)
        folder = folders.locate(model or folders.newest_export(runs_dir)).folder
        quiet.silence(verbose)
        with tempfile.TemporaryDirectory(prefix="fmnist-mcu-") as scratch, Stages(err) as stages:
            result = measure.run(
                folder, x_test, y_test, (work or Path(scratch)).resolve(), stages, command_line(), board_images, images
            )
    written = report.write(result, out_dir)
    (out if out.is_terminal else Console(soft_wrap=True, width=200)).print(report.rich_table(result))
    for line in report.footnotes(result):
        err.print(line.replace("**", ""), markup=False, highlight=False)
    for note in result["notes"]:
        err.print(f"note: {note}", markup=False, highlight=False)
    err.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    if result["problems"]:
        for problem in result["problems"]:
            err.print(f"problem: {problem}", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command()
def compare(
    reports: Annotated[list[Path], typer.Argument(help="bench.json files: the first is the base.", show_default=False)],
    fail_slower: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Exit 1 when a row is slower than the base by more than this many percent, with 95 % confidence.",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON instead of tables.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write the ratios and their intervals as a PNG.", show_default=False)
    ] = None,
) -> None:
    """Rows the reports share, side by side: the batch-1 p50 ratio with a 95 % bootstrap interval
    from the raw samples, marked faster, slower or the same, and the throughput ratios."""
    from fmnist.bench import compare as comparing
    from fmnist.errors import FmnistError

    with user_errors():
        if len(reports) < 2:
            raise FmnistError("compare needs a base report and at least one more")
        loaded = [(path, comparing.load(path)) for path in reports]
        base = loaded[0][1]
        found = [comparing.changes(base, report) for _, report in loaded[1:]]
        if not any(found):
            raise FmnistError("the reports share no row (model, format, call, threads)")
        if plot:
            with needs_extra("plot", "--plot"):
                from fmnist import plots
    if json_out:
        print(json.dumps(comparing.to_json(loaded, found), indent=2))
    else:
        for (path, report), rows in zip(loaded[1:], found, strict=True):
            views.comparison(loaded[0], (path, report), rows)
    if plot:
        plots.comparison([(str(path), rows) for (path, _), rows in zip(loaded[1:], found, strict=True)], plot)
    slower = [c for rows in found for c in comparing.regressions(rows, fail_slower)] if fail_slower is not None else []
    if slower:
        err.print(
            f"{len(slower)} rows slower than the base by more than {fail_slower:g} % with 95 % confidence: "
            + ", ".join("/".join(map(str, c.key)) for c in slower),
            highlight=False,
        )
        raise typer.Exit(1)
