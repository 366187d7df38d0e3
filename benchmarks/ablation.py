"""The training recipe's ablation: one row per change, each added to the one before (with
--from-first, each made alone to the first row's recipe); or, with --spread, one row per
seed of one recipe and their spread.

Usage: python benchmarks/ablation.py --out DIR [--spread | --from-first] "LABEL=RUN_DIR" ...

Each RUN_DIR is a finished run exported to int8 TFLite (RUN_DIR/export/manifest.json): its
row holds the float test accuracy, the int8 test accuracy verified at export, the epochs,
the training time and the command. Writes ablation.json and ablation.md; run by
benchmarks/recipe.sh.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def row(label: str, run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    return {
        "change": label,
        "run": str(run),
        "arch": metrics["arch"],
        "seed": metrics["seed"],
        "epochs": metrics["epochs"],
        "train_seconds": metrics["train_seconds"],
        "val_accuracy": metrics["val_accuracy"],
        "float_accuracy": metrics["test_accuracy"],
        "int8_accuracy": manifest["artifacts"]["tflite-int8"]["verified"]["accuracy"],
        "command": metrics["command"],
    }


def markdown(rows: list[dict], machine: str, spread: bool = False, from_first: bool = False) -> str:
    if spread:
        title, scope = "One recipe, three seeds", f"`{rows[0]['arch']}`, full training set; {machine}."
    else:
        title = "The training recipe, one change at a time"
        scope = f"`{rows[0]['arch']}`, seed {rows[0]['seed']}, full training set; {machine}. " + (
            "Each row makes its change alone to the first row."
            if from_first
            else "Each row adds its change to the row above."
        )
    lines = [
        f"# {title}",
        "",
        f"{scope} Validation: the best epoch on the 6,000 held-out training images; float and int8: "
        "the 10,000 test images, int8 being the exported TFLite model, verified at export.",
        "",
        "| "
        + " | ".join(
            ["run" if spread else "change", "epochs run", "training time", "validation", "float", "int8"]
            + ([] if spread else ["Δ int8"])
        )
        + " |",
        "|---|" + "---:|" * (5 if spread else 6),
    ]
    against = None  # the int8 accuracy a row's change is measured against
    for r in rows:
        cells = [r["change"], str(r["epochs"]), f"{r['train_seconds'] / 60:.1f} min"]
        cells += [f"{r[key]:.2%}" for key in ("val_accuracy", "float_accuracy", "int8_accuracy")]
        if not spread:
            cells.append("–" if against is None else f"{100 * (r['int8_accuracy'] - against):+.2f} pp")
        lines.append("| " + " | ".join(cells) + " |")
        if against is None or not from_first:
            against = r["int8_accuracy"]
    if spread:
        int8 = [r["int8_accuracy"] for r in rows]
        best = max(rows, key=lambda r: r["val_accuracy"])["change"]
        lines += [
            "",
            f"int8: mean {statistics.mean(int8):.2%}, from {min(int8):.2%} to {max(int8):.2%}. "
            f"Best on validation, so the one to ship: {best}.",
        ]
    lines += ["", "Commands:", "", *(f"- {r['change']}: `{r['command']}`" for r in rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spread", action="store_true", help="rows are seeds of one recipe: show their spread")
    parser.add_argument("--from-first", action="store_true", help="each row changes the first row's recipe alone")
    parser.add_argument("runs", nargs="+", help="LABEL=RUN_DIR, in order")
    args = parser.parse_args()
    rows = [row(label, Path(run)) for label, run in (item.split("=", 1) for item in args.runs)]
    machine = json.loads((Path(rows[0]["run"]) / "metrics.json").read_text())["machine"]
    described = f"{machine['cpu']}, {machine['cores']} cores" + (", GPU" if machine.get("gpus") else ", no GPU")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "seeds" if args.spread else "ablation"
    (args.out / f"{name}.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, described, args.spread, args.from_first)
    (args.out / f"{name}.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
