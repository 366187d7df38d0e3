"""The `fmnist` command. Each command imports its heavy modules itself, so `--help` is fast."""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from fmnist.errors import FmnistError
from fmnist.export.contract import DEFAULT_OPSET

app = typer.Typer(
    help="Train, export, run and benchmark Fashion-MNIST classifiers for the edge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Find, verify or download the Fashion-MNIST dataset.")
app.add_typer(data_app, name="data")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder holding the four IDX files (default: search).", show_default=False),
]


@contextmanager
def user_errors():
    """Turn an `FmnistError` into one line on stderr and exit code 2."""
    try:
        yield
    except FmnistError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def needs_extra(extra: str):
    """Turn a missing optional dependency into the pip command that installs it."""
    try:
        yield
    except ImportError as exc:
        raise FmnistError(
            f"this command needs {exc.name or 'an optional dependency'}: pip install 'fmnist[{extra}]'"
        ) from None


@data_app.callback(invoke_without_command=True)
def data_status(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Show where the dataset was found and verify its checksums."""
    if ctx.invoked_subcommand:
        return
    from fmnist import data

    with user_errors():
        dataset = data.load(data_dir)
    out.print(f"Fashion-MNIST in {dataset.source}: verified", highlight=False)
    out.print(
        f"  train {dataset.x_train.shape[0]} images, test {dataset.x_test.shape[0]} images, "
        "SHA-256 of all four files match",
        highlight=False,
    )


@data_app.command("download")
def data_download(
    data_dir: DataDir = None,
    mirror: Annotated[Optional[str], typer.Option(help="Base URL (default: $FMNIST_MIRROR or the official mirror).")] = None,
) -> None:
    """Download the dataset (default: into the user cache) and verify it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from fmnist import data

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        console=err, transient=True,
    )
    with user_errors(), progress:
        folder = data.download(data_dir, mirror, progress)
    out.print(f"Fashion-MNIST in {folder}: verified", highlight=False)


class Arch(str, Enum):
    edge = "edge"
    cnn = "cnn"
    mlp = "mlp"


class Strategy(str, Enum):
    auto = "auto"
    mirrored = "mirrored"
    default = "default"


@app.command()
def train(
    arch: Annotated[Arch, typer.Option(help="edge: compact int8-friendly CNN; cnn, mlp: the seed articles' baselines.")] = Arch.edge,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Default depends on --arch.", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Global batch size.", show_default=False)] = None,
    learning_rate: Annotated[Optional[float], typer.Option(min=0, help="Peak learning rate (AdamW, cosine decay).", show_default=False)] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Random flips and shifts.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seeds weights, split, shuffling and augmentation.")] = 0,
    limit: Annotated[Optional[int], typer.Option(min=20, help="Train on a stratified subset of this many images.", show_default=False)] = None,
    strategy: Annotated[Strategy, typer.Option(help="mirrored: all GPUs (or logical CPUs); auto: mirrored when there are several GPUs.")] = Strategy.auto,
    mixed_precision: Annotated[Optional[bool], typer.Option("--mixed-precision/--no-mixed-precision", help="float16 compute (default: on with a GPU).", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (default: the architecture).", show_default=False)] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder of run directories.")] = Path("runs"),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run of the same name.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Train a model into RUNS_DIR/NAME; rerunning the same command resumes an interrupted run."""
    import dataclasses

    with user_errors():
        from fmnist import data

        data.find(data_dir)  # a missing dataset fails before TensorFlow's slow import
        with needs_extra("train"):
            from fmnist.train import trainer

        given = {
            "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
            "augment": augment, "limit": limit, "mixed_precision": mixed_precision,
        }
        config = dataclasses.replace(
            trainer.DEFAULTS[arch.value], seed=seed, strategy=strategy.value,
            **{k: v for k, v in given.items() if v is not None},
        )
        if name is not None and (Path(name).name != name or name in ("", ".", "..")):
            raise FmnistError(f"--name {name!r} must be a plain folder name; use --runs-dir for the place")
        run_dir = runs_dir / (name or arch.value)
        command = shlex.join(["fmnist", *sys.argv[1:]])
        metrics = trainer.train(
            config, run_dir, data_dir=data_dir, overwrite=overwrite, console=err, command=command
        )
    print_metrics(metrics, run_dir)


@app.command()
def export(
    model: Annotated[Optional[Path], typer.Argument(help="A run folder or a .keras file (default: the newest run).", show_default=False)] = None,
    format: Annotated[list[str], typer.Option("--format", "-f", help="onnx, onnx-int8, tflite, tflite-int8 or all; repeat or separate with commas.")] = ["all"],
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: RUN_DIR/export).", show_default=False)] = None,
    calibration_size: Annotated[int, typer.Option(min=10, help="Training images to calibrate int8 on (stratified, seeded).")] = 512,
    calibration_method: Annotated[str, typer.Option(help="ONNX int8 calibration: minmax, entropy or percentile.")] = "minmax",
    opset: Annotated[int, typer.Option(min=13, help="ONNX opset.")] = DEFAULT_OPSET,
    runs_dir: Annotated[Path, typer.Option(help="Where to look for the newest run.")] = Path("runs"),
    data_dir: DataDir = None,
) -> None:
    """Export a trained model to ONNX and TFLite (float and int8), each verified on the test set."""
    with user_errors():
        from fmnist import data

        data.find(data_dir)
        from fmnist.export.exporter import check_options, export as run_export, resolve_model

        formats = check_options(format, calibration_method)
        model_path = resolve_model(model, runs_dir)
        out_dir = out or model_path.parent / "export"
        with needs_extra("export"), Stages(err) as stages:
            manifest = run_export(
                model_path, formats, out_dir,
                calibration_size=calibration_size, calibration_method=calibration_method,
                opset=opset, data_dir=data_dir, progress=stages,
                command=shlex.join(["fmnist", *sys.argv[1:]]),
            )
    print_artifacts(manifest, out_dir)


ModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--model", "-m", show_default=False,
        help="A .onnx or .tflite file, an export folder, or a shipped format (tflite-int8, onnx-int8, onnx). "
        "Default: the shipped int8 model.",
    ),
]
Threads = Annotated[Optional[int], typer.Option(min=1, help="Inference threads (default: the runtime's).", show_default=False)]


@app.command()
def predict(
    files: Annotated[list[Path], typer.Argument(help="Photos (PNG, JPEG, BMP, GIF, WebP, TIFF), IDX or .npy files, or folders of them.", show_default=False)],
    model: ModelOption = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=10, help="Classes to show per image.")] = 3,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per image instead of a table.")] = False,
    threads: Threads = None,
) -> None:
    """Classify clothing images; a file that cannot be read is reported and the rest go on."""
    import json

    from fmnist.runtime import inputs
    from fmnist.runtime.classifier import Classifier

    with user_errors():
        classifier = Classifier.load(model, threads)
    paths, failed, rows = inputs.walk(files), 0, []
    for path in paths:
        try:
            pixels = inputs.read(path)
        except inputs.InputError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            failed += 1
            continue
        indices, probs = classifier.top_k(pixels, top_k)
        for i, (best, p) in enumerate(zip(indices.tolist(), probs.tolist())):
            name = f"{path}[{i}]" if inputs.is_array_file(path) else str(path)
            ranked = [{"class": classifier.class_names[c], "label": c, "probability": round(q, 6)} for c, q in zip(best, p)]
            if json_lines:
                print(json.dumps({"file": name, **ranked[0], "top_k": ranked}), flush=True)
            else:
                rows.append((name, ranked))
    if rows:
        print_predictions(rows, classifier)
    if failed:
        err.print(f"{failed} of {len(paths)} inputs could not be read", highlight=False)
        raise typer.Exit(2)


def print_predictions(rows: list, classifier) -> None:
    from rich.table import Table

    table = Table(title=f"{classifier.path.name} ({classifier.runtime}, {classifier.precision})", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("class", no_wrap=True)
    table.add_column("probability", justify="right", no_wrap=True)
    table.add_column("runners-up")
    for name, ranked in rows:
        others = ", ".join(f"{r['class']} {r['probability']:.1%}" for r in ranked[1:])
        table.add_row(name, ranked[0]["class"], f"{ranked[0]['probability']:.1%}", others)
    out.print(table)


@app.command()
def evaluate(
    model: Annotated[Optional[str], typer.Argument(help="A .onnx or .tflite file, an export folder or a shipped format (default: the shipped int8 model).", show_default=False)] = None,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the full result (with every prediction) here.", show_default=False)] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write the confusion matrix as a PNG here.", show_default=False)] = None,
    threads: Threads = None,
    data_dir: DataDir = None,
) -> None:
    """Accuracy, per-class accuracy and confusion matrix of one artifact on the 10,000 test images."""
    from fmnist import data
    from fmnist.files import write_json
    from fmnist.runtime.classifier import Classifier
    from fmnist.runtime.evaluate import evaluate as run_evaluate

    with user_errors():
        if plot:
            with needs_extra("plot"):
                from fmnist import plots
        x_test, y_test = data.load_test(data_dir)
        classifier = Classifier.load(model, threads)
        result = run_evaluate(classifier, x_test[..., None], y_test)
    print_evaluation(result)
    if json_path:
        write_json(json_path, result)
    if plot:
        import numpy as np

        title = f"{classifier.path.name}: {result['accuracy']:.2%} on {result['images']:,} test images"
        plots.confusion_matrix(np.array(result["confusion_matrix"]), plot, title)


def print_evaluation(result: dict) -> None:
    from rich import box
    from rich.table import Table

    from fmnist import CLASS_NAMES

    expected = result["manifest_accuracy"]
    note = "" if expected is None else f" (manifest: {expected:.2%})"
    out.print(
        f"{result['model']} ({result['runtime']}, {result['precision']}): "
        f"[bold]{result['accuracy']:.2%}[/] on {result['images']:,} test images{note}",
        highlight=False,
    )
    table = Table(
        title="confusion matrix: true class (rows) against predicted class", title_justify="left",
        box=box.SIMPLE_HEAD, padding=0,
    )
    table.add_column("class", no_wrap=True)
    table.add_column("recall", justify="right", no_wrap=True)
    for j in range(len(CLASS_NAMES)):
        table.add_column(str(j), justify="right", min_width=5, no_wrap=True)
    for i, (name, matrix_row) in enumerate(zip(CLASS_NAMES, result["confusion_matrix"])):
        cells = [f"[bold]{n}[/]" if i == j else (str(n) if n else "·") for j, n in enumerate(matrix_row)]
        table.add_row(f"{i} {name}", f" {result['per_class_accuracy'][name]:.1%}", *cells)
    out.print(table)


def _int_list(value: str, option: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise FmnistError(f"{option} {value!r}: expected positive whole numbers separated by commas, e.g. 1,2")
    return numbers


@app.command()
def bench(
    targets: Annotated[Optional[list[Path]], typer.Argument(help="Run or export folders, .onnx/.tflite/.keras files (default: the newest run's export, else the shipped model).", show_default=False)] = None,
    threads: Annotated[Optional[str], typer.Option(help="Thread counts to measure, e.g. 1,2 [default: 1,2; --quick: 1].", show_default=False)] = None,
    batch: Annotated[Optional[str], typer.Option(help="Batch sizes for throughput [default: 1,32,256; --quick: 1,32].", show_default=False)] = None,
    iterations: Annotated[Optional[int], typer.Option(min=10, help="Timed batch-1 calls per row [default: 2000; --quick: 200].", show_default=False)] = None,
    warmup: Annotated[Optional[int], typer.Option(min=0, help="Untimed calls first [default: 50; --quick: 10].", show_default=False)] = None,
    cold_starts: Annotated[Optional[int], typer.Option(min=0, help="Fresh processes per row for cold start and peak RSS; 0 skips [default: 5; --quick: 1].", show_default=False)] = None,
    quick: Annotated[bool, typer.Option(help="A fast check of the whole path (seconds per row).")] = False,
    keras: Annotated[bool, typer.Option("--keras/--no-keras", help="Measure the Keras float model too, when TensorFlow is installed.")] = True,
    images: Annotated[Optional[int], typer.Option(min=100, max=10000, help="Score accuracy on the first N test images [default: all 10,000].", show_default=False)] = None,
    emulated: Annotated[Optional[str], typer.Option(help="Running under an emulator, e.g. 'qemu-aarch64 cortex-a72': every timing is marked as emulated.", show_default=False)] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for bench.md, bench.csv, bench.json and plots.")] = Path("bench"),
    runs_dir: Annotated[Path, typer.Option(help="Where to look for the newest run.")] = Path("runs"),
    data_dir: DataDir = None,
) -> None:
    """Latency, throughput, accuracy, size, cold start and memory of every format against the float model."""
    import dataclasses
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fmnist import data, machine
    from fmnist.bench import report as bench_report, suite

    with user_errors():
        base = suite.QUICK if quick else suite.Settings()
        given = {"iterations": iterations, "warmup": warmup}
        settings = dataclasses.replace(
            base,
            threads=_int_list(threads, "--threads") if threads else base.threads,
            batches=_int_list(batch, "--batch") if batch else base.batches,
            budget=dataclasses.replace(base.budget, **{k: v for k, v in given.items() if v is not None}),
            cold_starts=base.cold_starts if cold_starts is None else cold_starts, keras=keras, images=images,
        )
        x_test, y_test = data.load_test(data_dir)
        groups = suite.resolve_targets(targets or [], runs_dir)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=err, transient=True)
        with progress:
            result = suite.run(groups, x_test[..., None], y_test, settings, progress)
    result = {
        "command": shlex.join(["fmnist", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**machine.describe(), "emulated": emulated},
        "settings": {"threads": list(settings.threads), "batches": [str(b) for b in settings.batches],
                     "iterations": settings.budget.iterations, "warmup": settings.budget.warmup,
                     "seconds_per_measurement": settings.budget.seconds, "cold_starts": settings.cold_starts,
                     "quick": quick, "images": len(y_test[:images])},
        **result,
    }
    written = bench_report.write(result, out_dir)
    console = out if out.is_terminal else Console(soft_wrap=True, width=200)  # a log keeps every column
    for table in bench_report.rich_tables(result):
        console.print(table)
    for note in result["notes"]:
        err.print(f"note: {note}", markup=False, highlight=False)
    err.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


class Stages:
    """A line per stage, with a spinner while it runs and its duration once done."""

    def __init__(self, console: Console):
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console,
        )
        self.task = None

    def __call__(self, description: str) -> None:
        self._finish()
        self.task = self.progress.add_task(description, total=1)

    def _finish(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=1)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self._finish()
        self.progress.stop()


def print_artifacts(manifest: dict, out_dir: Path) -> None:
    """The table of published artifacts with their verified metrics."""
    from rich.table import Table

    source = manifest["source"]
    table = Table(title=f"{out_dir}  (Keras float model: {source['test_accuracy']:.2%} test accuracy)", title_justify="left")
    for column in ("format", "size", "accuracy", "Δ acc", "agreement", "max|Δlogit|"):
        table.add_column(column, justify="left" if column == "format" else "right", no_wrap=True)
    for name, entry in manifest["artifacts"].items():
        v = entry["verified"]
        table.add_row(
            name, f"{entry['bytes'] / 1024:.1f} KiB", f"{v['accuracy']:.2%}",
            f"{100 * v['delta_accuracy']:+.2f} pp", f"{v['agreement']:.2%}", f"{v['max_abs_logit_delta']:.2g}",
        )
    out.print(table)


def print_metrics(metrics: dict, run_dir: Path) -> None:
    """A summary table of a finished run."""
    from rich.table import Table

    table = Table(title=f"{run_dir}", show_header=False, title_justify="left")
    table.add_row("architecture", metrics["arch"])
    table.add_row("test accuracy", f"{metrics['test_accuracy']:.2%}")
    table.add_row("best validation accuracy", f"{metrics['val_accuracy']:.2%} (epoch {metrics['best_epoch']})")
    table.add_row("parameters", f"{metrics['params']:,}")
    table.add_row("MACs per image", f"{metrics['macs']:,}")
    table.add_row("epochs", str(metrics["epochs"]))
    table.add_row("training time", f"{metrics['train_seconds']:.0f} s")
    for cls, acc in metrics["per_class_accuracy"].items():
        table.add_row(f"  {cls}", f"{acc:.2%}")
    out.print(table)
