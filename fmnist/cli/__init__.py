"""The `fmnist` command, assembled from one module per command group.

Each command imports its heavy modules inside its own body, so `fmnist --help` starts fast
and without TensorFlow (a test checks it); the terminal views live in `views`.
"""

from __future__ import annotations

import typer

from fmnist.cli import bench, check, dataset, export, predict, serve, train

app = typer.Typer(
    help="Train, export, run and benchmark Fashion-MNIST classifiers for the edge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(dataset.app, name="data")
app.command()(train.train)
app.command()(export.export)
app.command()(predict.predict)
app.command()(predict.evaluate)
app.add_typer(bench.app, name="bench")
app.command()(check.check)
app.command()(serve.serve)

__all__ = ["app"]
