"""`fmnist predict` and `fmnist evaluate`: the runtime only, never TensorFlow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fmnist.cli import views
from fmnist.cli.common import (
    DataDir,
    ModelArgument,
    ModelOption,
    Threads,
    err,
    error,
    needs_extra,
    until_the_reader_stops,
    user_errors,
)


def predict(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Photos (PNG, JPEG, BMP, GIF, WebP, TIFF), IDX or .npy files, or folders of them.", show_default=False
        ),
    ],
    model: ModelOption = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=10, help="Classes to show per image.")] = 3,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per image (or per unreadable file) instead of a table.")
    ] = False,
    threads: Threads = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Name every file skipped in a folder.")] = False,
) -> None:
    """Classify clothing images; a file that cannot be read is reported and the rest go on.

    An answer whose best class has less than 50 % probability is marked as a low-confidence guess."""
    from fmnist.errors import InputError
    from fmnist.runtime import inputs
    from fmnist.runtime.classifier import Classifier

    with user_errors():
        classifier = Classifier.load(model, threads)
    found, failed, rows = inputs.walk(files), 0, []
    emit = _json_lines(classifier.path.name) if json_lines else None
    with until_the_reader_stops():
        for path in found.files:
            try:
                pixels = inputs.read(path)
            except InputError as exc:
                error(str(exc))
                if emit:
                    emit({"file": str(path), "error": str(exc).removeprefix(f"{path}: ")})
                failed += 1
                continue
            for i, answer in enumerate(classifier.answers(pixels, top_k)):
                name = f"{path}[{i}]" if inputs.is_array_file(path) else str(path)
                if emit:
                    emit({"file": name, **answer})
                else:
                    rows.append((name, answer))
        if rows:
            views.predictions(rows, f"{classifier.path.name} ({classifier.runtime}, {classifier.precision})")
    views.skipped(found.skipped, verbose)
    if failed:
        err.print(f"{failed} of {len(found.files)} inputs could not be read", highlight=False)
        raise typer.Exit(2)


def _json_lines(model: str) -> Callable[[dict], None]:
    """Print one JSON object per line, naming the model."""
    return lambda record: print(json.dumps({**record, "model": model}), flush=True)


def evaluate(
    model: ModelArgument = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Write the full result (with every prediction) here.", show_default=False),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the confusion matrix as a PNG here.", show_default=False)
    ] = None,
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
            with needs_extra("plot", "--plot"):
                from fmnist import plots
        x_test, y_test = data.load_test(data_dir)
        classifier = Classifier.load(model, threads)
        result = run_evaluate(classifier, x_test[..., None], y_test)
    views.evaluation(result)
    if json_path:
        write_json(json_path, result)
    if plot:
        import numpy as np

        title = f"{classifier.path.name}: {result['accuracy']:.2%} on {result['images']:,} test images"
        plots.confusion_matrix(np.array(result["confusion_matrix"]), plot, title)
