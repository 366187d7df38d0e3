"""How results look in the terminal: rich tables (the export's stage list is in `stages`)."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table

from fmnist.cli.common import out
from fmnist.contract import CLASS_NAMES


def metrics(metrics: dict, run_dir: Path) -> None:
    """A summary table of a finished training run."""
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


def artifacts(manifest: dict, out_dir: Path) -> None:
    """The table of published artifacts with their verified metrics."""
    source = manifest["source"]
    table = Table(
        title=f"{out_dir}  (Keras float model: {source['test_accuracy']:.2%} test accuracy)", title_justify="left"
    )
    for column in ("format", "size", "accuracy", "Δ acc", "agreement", "max|Δlogit|"):
        table.add_column(column, justify="left" if column == "format" else "right", no_wrap=True)
    for name, entry in manifest["artifacts"].items():
        v = entry["verified"]
        table.add_row(
            name,
            f"{entry['bytes'] / 1024:.1f} KiB",
            f"{v['accuracy']:.2%}",
            f"{100 * v['delta_accuracy']:+.2f} pp",
            f"{v['agreement']:.2%}",
            f"{v['max_abs_logit_delta']:.2g}",
        )
    out.print(table)


def predictions(rows: list[tuple[str, list[dict]]], title: str) -> None:
    """One row per image: its best class and probability, then the runners-up."""
    table = Table(title=title, title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("class", no_wrap=True)
    table.add_column("probability", justify="right", no_wrap=True)
    table.add_column("runners-up")
    for name, ranked in rows:
        others = ", ".join(f"{r['class']} {r['probability']:.1%}" for r in ranked[1:])
        table.add_row(name, ranked[0]["class"], f"{ranked[0]['probability']:.1%}", others)
    out.print(table)


def evaluation(result: dict) -> None:
    """Accuracy against the manifest's, and the confusion matrix with each class's recall."""
    expected = result["manifest_accuracy"]
    note = "" if expected is None else f" (manifest: {expected:.2%})"
    out.print(
        f"{result['model']} ({result['runtime']}, {result['precision']}): "
        f"[bold]{result['accuracy']:.2%}[/] on {result['images']:,} test images{note}",
        highlight=False,
    )
    table = Table(
        title="confusion matrix: true class (rows) against predicted class",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=0,
    )
    table.add_column("class", no_wrap=True)
    table.add_column("recall", justify="right", no_wrap=True)
    for j in range(len(CLASS_NAMES)):
        table.add_column(str(j), justify="right", min_width=5, no_wrap=True)
    for i, (name, matrix_row) in enumerate(zip(CLASS_NAMES, result["confusion_matrix"], strict=True)):
        cells = [f"[bold]{n}[/]" if i == j else (str(n) if n else "·") for j, n in enumerate(matrix_row)]
        table.add_row(f"{i} {name}", f" {result['per_class_accuracy'][name]:.1%}", *cells)
    out.print(table)
