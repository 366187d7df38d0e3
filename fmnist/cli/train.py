"""`fmnist train`: every TrainConfig setting as an option, checked before Keras and its backend are imported."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from fmnist.cli import views
from fmnist.cli.common import DataDir, RunsDir, Verbose, command_line, err, needs_extra, user_errors
from fmnist.errors import FmnistError
from fmnist.train.config import Arch, Backend, Precision, Strategy, defaults


def train(
    arch: Annotated[
        Arch,
        typer.Option(
            help="edge: the compact int8-friendly CNN; edge-*: its variants, the frontier of accuracy and "
            "latency; wide: a larger one, to teach; cnn, mlp: the seed articles' baselines."
        ),
    ] = Arch.edge,
    epochs: Annotated[int | None, typer.Option(min=1, help="Default depends on --arch.", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Global batch size.", show_default=False)] = None,
    learning_rate: Annotated[
        float | None, typer.Option(min=0, help="Peak learning rate (AdamW, cosine decay).", show_default=False)
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option(min=0, help="AdamW weight decay (default: 0.01).", show_default=False)
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option(min=0, max=0.5, help="Label smoothing (default depends on --arch).", show_default=False),
    ] = None,
    augment: Annotated[
        bool | None, typer.Option("--augment/--no-augment", help="Random flips and shifts.", show_default=False)
    ] = None,
    erase: Annotated[
        float | None,
        typer.Option(
            min=0, max=1, help="Chance of random erasing per image (default depends on --arch).", show_default=False
        ),
    ] = None,
    ema: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=0.9999,
            help="Momentum of the weights' moving average, validated and saved; 0: off (default depends on --arch).",
            show_default=False,
        ),
    ] = None,
    teacher: Annotated[
        list[Path] | None,
        typer.Option(
            help="A finished run to distil from; repeat for an ensemble (logits averaged).", show_default=False
        ),
    ] = None,
    distill: Annotated[
        float | None,
        typer.Option(
            min=0, max=1, help="Weight of the teachers' soft targets in the loss (default: 0.5).", show_default=False
        ),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=1, help="Distillation temperature (default: 4).", show_default=False)
    ] = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(
            min=0.01, max=0.5, help="Share of each class held out for validation (default: 0.1).", show_default=False
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds weights, split, shuffling and augmentation.")] = 0,
    limit: Annotated[
        int | None,
        typer.Option(min=20, help="Train on a stratified subset of this many images.", show_default=False),
    ] = None,
    backend: Annotated[
        Backend,
        typer.Option(help="What Keras trains on; auto: $KERAS_BACKEND, else TensorFlow when installed, else JAX."),
    ] = Backend.auto,
    strategy: Annotated[
        Strategy,
        typer.Option(
            help="mirrored: all GPUs or logical CPUs (TensorFlow); multi-worker: several processes, data "
            "parallel (JAX); auto: mirrored when there are several GPUs."
        ),
    ] = Strategy.auto,
    coordinator: Annotated[
        str | None,
        typer.Option(
            help="multi-worker: HOST:PORT of process 0, the coordinator.",
            show_default=False,
        ),
    ] = None,
    num_processes: Annotated[
        int | None,
        typer.Option(
            help="multi-worker: how many processes train.",
            show_default=False,
        ),
    ] = None,
    process_id: Annotated[
        int | None,
        typer.Option(
            help="multi-worker: this process's number, from 0.",
            show_default=False,
        ),
    ] = None,
    precision: Annotated[
        Precision, typer.Option(help="mixed: float16 compute, float32 weights; auto: mixed on a GPU.")
    ] = Precision.auto,
    name: Annotated[str | None, typer.Option(help="Run name (default: the architecture).", show_default=False)] = None,
    runs_dir: RunsDir = Path("runs"),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run of the same name.")] = False,
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Train a model into RUNS_DIR/NAME; rerunning the same command resumes an interrupted run."""
    from fmnist import quiet

    with user_errors():
        from fmnist import data, folders

        if name is not None and (Path(name).name != name or name in ("", ".", "..")):
            raise FmnistError(f"--name {name!r} must be a plain folder name; use --runs-dir for the place")
        data.find(data_dir)  # a missing dataset or teacher fails before the slow import of Keras
        for run in teacher or []:
            folders.run_model(run, "--teacher")
        given: dict[str, Any] = {
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "label_smoothing": label_smoothing,
            "augment": augment,
            "val_fraction": val_fraction,
            "limit": limit,
            "mixed_precision": {Precision.auto: None, Precision.mixed: True, Precision.float32: False}[precision],
            "erase": erase,
            "ema": ema,
            "teachers": tuple(str(t) for t in teacher) if teacher else None,
            "distill": distill,
            "temperature": temperature,
        }
        config = dataclasses.replace(
            defaults(arch.value),
            seed=seed,
            strategy=strategy.value,
            **{k: v for k, v in given.items() if v is not None},
        )
        from fmnist.train import backend as backends
        from fmnist.train import cluster

        job = None
        if strategy == Strategy.multi_worker:
            job = cluster.settings(coordinator, num_processes, process_id, config.batch_size)
        elif coordinator or num_processes is not None or process_id is not None:
            raise FmnistError("--coordinator, --num-processes and --process-id are for --strategy multi-worker")
        chosen = backends.choose(backend.value)
        if job and chosen != "jax":
            raise FmnistError("--strategy multi-worker runs on JAX (keras.distribution); train with --backend jax")
        if job and os.environ.get(cluster.WORKER) != "1":
            raise typer.Exit(cluster.supervise(job))
        quiet.silence(verbose)
        with needs_extra(backends.EXTRAS[chosen]):
            from fmnist.train import trainer

        run_dir = runs_dir / (name or arch.value)
        metrics = trainer.train(
            config, run_dir, data_dir=data_dir, overwrite=overwrite, console=err, command=command_line(), job=job
        )
    if job and not job.leader:
        err.print(f"process {job.process_id} of {job.num_processes}: done; process 0 wrote {run_dir}", highlight=False)
        return
    views.metrics(metrics, run_dir)
