"""Keras callbacks: a history file that survives restarts, and a rich progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fmnist.files import write_json


def read_history(path: Path) -> list[dict]:
    """The per-epoch records written so far (empty for a new run)."""
    return json.loads(path.read_text()) if path.exists() else []


class HistoryFile(keras.callbacks.Callback):
    """Writes one record per finished epoch to a JSON file, atomically.

    On a resumed run the first epoch Keras starts tells how many epochs the restored
    checkpoint holds; records past it (written just before a crash) are dropped.
    """

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.records: list[dict] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if not self.records or len(self.records) > epoch:
            self.records = read_history(self.path)[:epoch]
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        record["learning_rate"] = float(self.model.optimizer.learning_rate)
        record["seconds"] = round(time.perf_counter() - self._start, 3)
        self.records.append(record)
        write_json(self.path, self.records)


class RichProgress(keras.callbacks.Callback):
    """One progress bar with ETA over all epochs, and a line per finished epoch.

    Use it as a context manager around `fit`, so the display stops even when fit raises.
    """

    def __init__(self, epochs: int, steps: int, console: Console):
        super().__init__()
        self.epochs, self.steps, self.console = epochs, steps, console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
        )

    def __enter__(self) -> RichProgress:
        self.progress.start()
        self.task = self.progress.add_task("training", total=self.epochs * self.steps, metrics="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self.progress.update(self.task, completed=epoch * self.steps, description=f"epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.progress.update(
            self.task,
            completed=self.epoch * self.steps + batch + 1,
            metrics=f"loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f}",
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.progress.console.print(
            f"epoch {epoch + 1:>3}/{self.epochs}  loss {logs.get('loss', 0):.4f}  "
            f"acc {logs.get('accuracy', 0):.4f}  val_loss {logs.get('val_loss', 0):.4f}  "
            f"val_acc {logs.get('val_accuracy', 0):.4f}",
            highlight=False,
        )
