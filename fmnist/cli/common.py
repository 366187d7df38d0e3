"""What every command shares: the consoles, error handling, and the options several commands take."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fmnist.errors import FmnistError, MissingExtra

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder holding the four IDX files (default: search).", show_default=False),
]
RunsDir = Annotated[Path, typer.Option(help="Folder of run directories.")]
Threads = Annotated[
    int | None, typer.Option(min=1, help="Inference threads (default: the runtime's).", show_default=False)
]
MODEL_HELP = "A run folder, an export folder, a .onnx, .tflite, .cc or .c file, or a format of the shipped model"
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", show_default=False, help=f"{MODEL_HELP}. Default: the shipped int8 model."),
]
ModelArgument = Annotated[
    str | None, typer.Argument(show_default=False, help=f"{MODEL_HELP}; default: the shipped model.")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's and the converters' own logs too.")]


def command_line() -> str:
    """The command as the user typed it, for records."""
    return shlex.join(["fmnist", *sys.argv[1:]])


def error(message: str) -> None:
    """One line on stderr, printed as it is (no markup)."""
    err.print(f"error: {message}", markup=False, highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an `FmnistError` into one line on stderr and exit code 2."""
    try:
        yield
    except FmnistError as exc:
        error(str(exc))
        raise typer.Exit(2) from None


@contextmanager
def until_the_reader_stops() -> Iterator[None]:
    """End quietly, with exit code 0, when the reader of stdout goes away (`fmnist predict | head -1`)."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        raise typer.Exit(0) from None


@contextmanager
def needs_extra(extra: str, what: str = "this command") -> Iterator[None]:
    """Turn a missing optional dependency into the pip command that installs it."""
    try:
        yield
    except ImportError as exc:
        raise MissingExtra(what, exc.name, extra) from None


def int_list(value: str | None, option: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Positive whole numbers separated by commas ("1,2"), or `default` when not given."""
    if value is None:
        return default
    try:
        numbers = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise FmnistError(f"{option} {value!r}: expected positive whole numbers separated by commas, e.g. 1,2")
    return numbers
