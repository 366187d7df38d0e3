"""How results look in the terminal: rich tables (the export's stage list is in `stages`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from fmnist.cli.common import err, out
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
    model = {"keras": "your Keras model", "onnx": "your ONNX model"}.get(source.get("kind", ""), "Keras float model")
    table = Table(title=f"{out_dir}  ({model}: {source['test_accuracy']:.2%} test accuracy)", title_justify="left")
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


def predictions(rows: list[tuple[str, dict]], title: str) -> None:
    """One row per image: its best class and probability, then the runners-up; a low-confidence
    answer is marked with a question mark."""
    table = Table(title=title, title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("class", no_wrap=True)
    table.add_column("probability", justify="right", no_wrap=True)
    table.add_column("runners-up")
    for name, answer in rows:
        others = ", ".join(f"{r['class']} {r['probability']:.1%}" for r in answer["top_k"][1:])
        best = f"{answer['class']}?" if answer["low_confidence"] else answer["class"]
        table.add_row(name, best, f"{answer['probability']:.1%}", others)
    out.print(table)
    if any(answer["low_confidence"] for _, answer in rows):
        out.print("?: a guess, the best class has less than 50 % probability", highlight=False)


def skipped(passed_over: list[tuple[Path, str]], verbose: bool) -> None:
    """One line on stderr for the files a folder walk passed over (each one with `verbose`)."""
    from fmnist.runtime.inputs import UNSUPPORTED

    if not passed_over:
        return
    types = Counter(path.suffix.lower() or "no suffix" for path, why in passed_over if why == UNSUPPORTED)
    parts = [f"{', '.join(f'{n} {kind}' for kind, n in types.most_common())} (types fmnist does not read)"] * bool(
        types
    )
    parts += [f"{n} {why}" for why, n in Counter(why for _, why in passed_over if why != UNSUPPORTED).items()]
    hint = "" if verbose else " (--verbose names them)"
    err.print(f"skipped in folders: {'; '.join(parts)}{hint}", markup=False, highlight=False)
    for path, why in passed_over if verbose else []:
        err.print(f"skipped {path}: {why}", markup=False, highlight=False)


def evaluation(result: dict) -> None:
    """Accuracy against the manifest's; each class's precision, recall and F1 beside the confusion
    matrix; the pairs of classes most often taken for each other."""
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
    for score in ("prec.", "recall", "F1"):  # short enough for the whole table to fit 80 columns
        table.add_column(score, justify="right", no_wrap=True)
    for j in range(len(CLASS_NAMES)):
        table.add_column(str(j), justify="right", min_width=3, no_wrap=True)
    for i, (name, matrix_row) in enumerate(zip(CLASS_NAMES, result["confusion_matrix"], strict=True)):
        cells = [f"[bold]{n}[/]" if i == j else (str(n) if n else "·") for j, n in enumerate(matrix_row)]
        scores = result["per_class"][name]
        table.add_row(f"{i} {name}", *(f"{scores[k]:.1%}" for k in ("precision", "recall", "f1")), *cells)
    out.print(table)
    confused = "; ".join(f"{c['true']} taken for {c['predicted']} {c['images']}×" for c in result["most_confused"])
    out.print(f"macro F1 {result['macro_f1']:.2%}; most confused: {confused}", highlight=False)


def comparison(base: tuple[Path, dict], new: tuple[Path, dict], rows: list) -> None:
    """One compared report: each shared row's p50 before and after, the ratio and its interval."""
    (base_path, _), (new_path, new_report) = base, new
    where = {
        path: f"{r['machine']['cpu']}{' (emulated)' if r['machine'].get('emulated') else ''}" for path, r in (base, new)
    }
    same = where[base_path] == where[new_path]
    title = f"{new_path} against {base_path}" + (f", both on {where[base_path]}" if same else "")
    batches = new_report["settings"]["batches"]
    table = Table(title=title, title_justify="left")
    for column in ("row", "p50 µs", "new / base (95 %)", "", *(f"img/s @{b}" for b in batches)):
        table.add_column(column, justify="left" if column in ("row", "") else "right", no_wrap=True)
    colour = {"faster": "[green]", "slower": "[red]", "same": "", "unknown": "[dim]"}
    for c in rows:
        model, fmt, call, threads = c.key
        bounds = "interval unknown" if c.low is None else f"{c.low:.3f}–{c.high:.3f}"
        table.add_row(
            f"{model}/{fmt} {call} ×{threads or 'auto'}",
            f"{c.base_p50:,.1f} → {c.new_p50:,.1f}",
            f"{c.ratio:.3f} ({bounds})",
            f"{colour[c.verdict]}{c.verdict}",
            *(f"{c.throughput[b]:.2f}×" if b in c.throughput else "–" for b in batches),
        )
    console = out if out.is_terminal else Console(soft_wrap=True, width=200)  # a log keeps every column
    console.print(table)
    if not same:
        console.print(
            f"note: base on {where[base_path]}, new on {where[new_path]}: the ratios compare the machines too",
            highlight=False,
        )
