"""The export's stage list: one line per stage with its real duration."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.text import Text


class _Seconds(ProgressColumn):
    """A stage's duration, to a tenth of a second (rich's elapsed column rounds down to whole seconds)."""

    def render(self, task: Task) -> Text:
        seconds = task.finished_time if task.finished else task.elapsed
        return Text("" if seconds is None else f"{seconds:5.1f} s", style="progress.elapsed")


class Stages:
    """A line per stage and its duration: live with a spinner on a terminal, one plain line per
    finished stage in a log."""

    def __init__(self, console: Console):
        self.console = console
        self.progress: Progress | None = None
        if console.is_terminal:
            self.progress = Progress(
                SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"), _Seconds(), console=console
            )
        self.task: TaskID | None = None
        self.description: str | None = None
        self.started = 0.0

    def __call__(self, description: str) -> None:
        self._finish()
        self.description, self.started = description, time.perf_counter()
        if self.progress:
            self.task = self.progress.add_task(description, total=1)

    def _finish(self) -> None:
        if self.description is None:
            return
        if self.progress and self.task is not None:
            self.progress.update(self.task, completed=1)
        else:
            seconds = time.perf_counter() - self.started
            self.console.print(f"✓ {self.description}  {seconds:.1f} s", markup=False, highlight=False)
        self.description = None

    def __enter__(self) -> Stages:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self._finish()
        if self.progress:
            self.progress.stop()
