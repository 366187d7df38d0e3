"""`fmnist train`: fit an architecture on Fashion-MNIST into a resumable run directory.

A run directory holds ``config.json`` (written first), ``history.json`` (one record per
finished epoch), ``backup/`` (Keras BackupAndRestore: rerunning the same command after a
crash resumes from the last finished epoch), and when done ``model.keras``,
``metrics.json`` and ``plots/``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np
from rich.console import Console

from fmnist import data, folders, machine, plots
from fmnist.errors import FmnistError
from fmnist.files import atomic_path, write_json
from fmnist.metrics import confusion_matrix, per_class_accuracy
from fmnist.train import backend, cluster, distill, models, pipeline
from fmnist.train.callbacks import HistoryFile, RichProgress, read_history
from fmnist.train.config import TRAIN_IMAGES, Arch, Strategy, TrainConfig


def make_strategy(name: str) -> Any:
    """On TensorFlow, a tf.distribute strategy: `mirrored` replicates over every GPU (every logical
    CPU when there is none). On JAX, None: one device, or `keras.distribution` (multi-worker)."""
    if name not in {s.value for s in Strategy}:
        raise FmnistError(f"unknown strategy {name!r}; choose {', '.join(s.value for s in Strategy)}")
    if name == "multi-worker":
        if keras.backend.backend() != "jax":
            raise FmnistError("--strategy multi-worker runs on JAX (keras.distribution); train with --backend jax")
        return None
    if keras.backend.backend() != "tensorflow":
        if name == "mirrored":
            raise FmnistError("--strategy mirrored is TensorFlow's (tf.distribute); train with --backend tensorflow")
        return None
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.get_strategy()


def _prepare_run_dir(run_dir: Path, config: TrainConfig, overwrite: bool) -> dict | None:
    """Check a run directory against `config`; return its metrics if it is already finished."""
    config_path = run_dir / "config.json"
    if run_dir.exists() and not (run_dir.is_dir() and (not any(run_dir.iterdir()) or config_path.exists())):
        raise FmnistError(f"{run_dir} exists and is not a run folder; choose another --name")
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    if config_path.exists():
        # a setting added since the run was made reads as its default, which is what the run used
        saved = {**TrainConfig().record(), **json.loads(config_path.read_text())}
        wanted = config.record()
        diff = [f"{k} {saved.get(k)!r} → {v!r}" for k, v in wanted.items() if saved.get(k) != v]
        if diff:
            raise FmnistError(
                f"{run_dir} holds a run with other settings ({'; '.join(diff)}); rerun with its "
                "settings to resume it, choose another --name, or pass --overwrite"
            )
    if (run_dir / folders.METRICS).exists():
        return json.loads((run_dir / folders.METRICS).read_text())
    write_json(config_path, config.record())
    return None


def _restored_epochs(backup_dir: Path) -> int:
    """How many finished epochs Keras's BackupAndRestore will restore from `backup_dir`."""
    try:
        return int(json.loads((backup_dir / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _back_to(backup_dir: Path, epochs: int) -> bool:
    """Make `backup_dir` hold the checkpoint after `epochs` finished epochs, from the one before the
    latest that BackupAndRestore keeps (double_checkpoint) if need be; False when it holds neither."""
    if _restored_epochs(backup_dir) == epochs:
        return True
    if epochs == 0:
        shutil.rmtree(backup_dir, ignore_errors=True)
        return True
    previous = backup_dir / "training_metadata.json.bkp"
    try:
        if int(json.loads(previous.read_text())["epoch"]) != epochs:
            return False
    except (OSError, ValueError, KeyError):
        return False
    shutil.copyfile(backup_dir / "latest.weights.h5.bkp", backup_dir / "latest.weights.h5")
    shutil.copyfile(previous, backup_dir / "training_metadata.json")
    return True


def _compile(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> None:
    total = config.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate / 10,
        max(total - warmup, 1),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, **ema),
        loss=distill.loss(config.label_smoothing, config.distill, config.temperature),
        metrics=[distill.accuracy],
    )


def test_metrics(y: np.ndarray, logits: np.ndarray) -> dict:
    """Accuracy, loss, per-class accuracy and confusion matrix of logits against labels."""
    predicted = logits.argmax(axis=1)
    matrix = confusion_matrix(y, predicted)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    return {
        "test_accuracy": float((predicted == y).mean()),
        "test_loss": float(loss),
        "per_class_accuracy": per_class_accuracy(matrix),
        "confusion_matrix": matrix.tolist(),
    }


def _machine() -> dict:
    devices = backend.devices()
    return {**machine.describe(), "devices": devices, "gpus": [d for d in devices if "gpu" in d.lower()]}


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    console: Console | None = None,
    command: str | None = None,
    callbacks: tuple[keras.callbacks.Callback, ...] = (),
    job: cluster.Cluster | None = None,
) -> dict:
    """Train (or resume) a run and return its metrics; see the module docstring. With a `job`, this
    process is one of several training it (data parallel): process 0 writes `run_dir`."""
    if config.arch not in {a.value for a in Arch}:
        raise FmnistError(f"unknown architecture {config.arch!r}; choose one of {', '.join(a.value for a in Arch)}")
    config.check_ema(config.limit or TRAIN_IMAGES)
    strategy = make_strategy(config.strategy)
    console = console or Console(stderr=True)
    run_dir = Path(run_dir)
    local_dir = job.local_run_dir(run_dir) if job else run_dir
    if job:
        if not job.leader:
            console = Console(stderr=True, quiet=True)
        cluster.join(job, {**config.record(), "processes": job.num_processes})
    finished = _prepare_run_dir(local_dir, config, overwrite)
    if job and cluster.leader_says(finished is not None) and not job.leader:  # process 0 holds the run folder
        shutil.rmtree(local_dir, ignore_errors=True)
        return {}
    if finished:
        console.print(f"{run_dir} is already trained (pass --overwrite to train it again)")
        return finished
    dataset = data.load(data_dir)

    backend.seed(config.seed)
    mixed = backend.on_gpu() if config.mixed_precision is None else config.mixed_precision
    keras.mixed_precision.set_global_policy(backend.mixed_policy() if mixed else "float32")

    x, y = dataset.x_train, dataset.y_train
    if config.limit:
        subset = data.stratified_subset(y, config.limit, config.seed)
        x, y = x[subset], y[subset]
    keep, held_out = data.stratified_split(y, config.val_fraction, config.seed)
    batch, val_batch = config.batch_size, 1024
    if job:  # each process reads an equal shard, its share of every global batch, and no ragged end
        n, i = job.num_processes, job.process_id
        keep, held_out = keep[i::n][: len(keep) // n], held_out[i::n][: len(held_out) // n]
        batch, val_batch = batch // n, max(min(val_batch // n, len(held_out)), 1)
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices(), auto_shard_dataset=False)
        )
    train_ds = pipeline.Batches(x[keep], y[keep], batch, shuffle=True, seed=config.seed, whole=bool(job))
    val_ds = pipeline.Batches(x[held_out], y[held_out], val_batch, whole=bool(job))
    steps = len(train_ds)

    with strategy.scope() if strategy else contextlib.nullcontext():
        augment = pipeline.Augment(config.seed, config.erase) if config.augment else None
        model = pipeline.Taught(models.build(config.arch), augment, distill.teachers(config.teachers))
        model(train_ds[0][0][:1])  # built before fit, which BackupAndRestore needs (in inference: no BN update)
        _compile(model, config, steps)

    history_path = local_dir / "history.json"
    best_path = local_dir / "best.weights.h5"
    restored = _restored_epochs(local_dir / "backup")
    if job:  # a process stopped between the others' checkpoints is one epoch behind: all go back to it
        restored = cluster.smallest(restored)
        if not _back_to(local_dir / "backup", restored):
            raise FmnistError(
                f"the processes hold checkpoints of different epochs ({local_dir}); rerun with --overwrite"
            )
    done = read_history(history_path)[:restored]
    best_so_far = max((r["val_accuracy"] for r in done), default=None)
    fit_callbacks = [
        # validate, keep and back up the weights' moving average (it swaps in at each epoch's end)
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []),
        HistoryFile(history_path),
        keras.callbacks.ModelCheckpoint(
            best_path,
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far,
        ),
        keras.callbacks.BackupAndRestore(  # kept until metrics.json is written
            local_dir / "backup", double_checkpoint=True, delete_checkpoint=False
        ),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=max(5, config.epochs // 3)),
        progress := RichProgress(config.epochs, steps, console),
        *callbacks,
    ]
    if done:
        console.print(f"resuming {run_dir} after epoch {len(done)}", highlight=False)
    train_ds.start_at(len(done))
    with progress:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=config.epochs,
            callbacks=fit_callbacks,
            shuffle=False,
            verbose=0,  # the batches shuffle themselves, seeded
        )
    if config.ema:  # on JAX the moving average's last swap leaves model and optimizer sharing buffers
        for variable in model.optimizer.variables:
            variable.assign(keras.ops.convert_to_numpy(variable))

    history = read_history(history_path)
    if best_path.exists():
        model.load_weights(best_path)
    if job:
        if not cluster.same_everywhere(cluster.weights_digest(model.student.get_weights())):
            raise FmnistError("the processes ended with different weights; the run folder is left as it was")
        keras.distribution.set_distribution(None)  # what follows runs on each process alone
    # store a float32 model (exporters and runtimes get one precision) without its training
    # configuration (the loss and metric are fmnist's own): it loads anywhere Keras runs
    keras.mixed_precision.set_global_policy("float32")
    trained, model = model, models.build(config.arch)
    model.set_weights(trained.student.get_weights())

    logits = model.predict(dataset.x_test[..., None], batch_size=1024, verbose=0)
    best = max(history, key=lambda r: r["val_accuracy"])
    metrics = {
        "arch": config.arch,
        "params": int(model.count_params()),
        "macs": models.count_macs(model),
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "val_accuracy": best["val_accuracy"],
        "train_seconds": round(sum(r["seconds"] for r in history), 1),
        **test_metrics(dataset.y_test, logits),
        "seed": config.seed,
        "config": config.record(),
        "teachers": distill.records(config.teachers),
        "backend": keras.backend.backend(),
        "strategy": type(strategy).__name__ if strategy else "multi-worker" if job else "one device",
        "processes": job.num_processes if job else 1,
        "replicas": strategy.num_replicas_in_sync if strategy else len(backend.devices()) if job else 1,
        "mixed_precision": mixed,
        "train_images": len(train_ds) * config.batch_size if job else len(keep),
        "val_images": len(val_ds) * val_batch * job.num_processes if job else len(held_out),
        "data": str(dataset.source),
        "machine": _machine(),
        "command": command,
    }

    if job and not job.leader:  # process 0 writes the run folder; this one's checkpoints go
        shutil.rmtree(local_dir, ignore_errors=True)
        cluster.barrier("fmnist train: written")
        return metrics
    plot_dir = run_dir / "plots"
    plots.training_curves(history, plot_dir / "training_curves.png")
    plots.confusion_matrix(
        np.array(metrics["confusion_matrix"]),
        plot_dir / "confusion_matrix.png",
        f"{config.arch}: test accuracy {metrics['test_accuracy']:.2%}",
    )
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits[:15]))
    plots.prediction_grid(dataset.x_test[:15], dataset.y_test[:15], probabilities, plot_dir / "predictions.png")
    with atomic_path(run_dir / folders.MODEL) as tmp:
        model.save(tmp)
    write_json(run_dir / folders.METRICS, metrics)  # last: its presence marks a finished run
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    best_path.unlink(missing_ok=True)  # model.keras holds these weights now
    if job:
        cluster.barrier("fmnist train: written")
    return metrics
