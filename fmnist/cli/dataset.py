"""`fmnist data`: find, verify or download the dataset."""

from __future__ import annotations

from typing import Annotated

import typer

from fmnist.cli.common import DataDir, err, out, user_errors

app = typer.Typer(help="Find, verify or download the Fashion-MNIST dataset.")


@app.callback(invoke_without_command=True)
def status(ctx: typer.Context, data_dir: DataDir = None) -> None:
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


@app.command()
def download(
    data_dir: DataDir = None,
    mirror: Annotated[
        str | None, typer.Option(help="Base URL (default: $FMNIST_MIRROR or the official mirror).")
    ] = None,
) -> None:
    """Download the dataset (default: into the user cache) and verify it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from fmnist import data

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    )
    with user_errors(), progress:
        folder = data.download(data_dir, mirror, progress)
    out.print(f"Fashion-MNIST in {folder}: verified", highlight=False)
