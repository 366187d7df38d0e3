"""Plots: training curves, confusion matrix, a grid of predictions (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fmnist.contract import CLASS_NAMES
from fmnist.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fmnist.bench.row import Row


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def training_curves(history: list[dict], path: Path) -> None:
    """Loss, accuracy (train and validation) and learning rate per epoch."""
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, key in zip(axes[:2], ("loss", "accuracy"), strict=True):
        ax.plot(epochs, [r[key] for r in history], "o-", label="train")
        ax.plot(epochs, [r[f"val_{key}"] for r in history], "o-", label="validation")
        ax.set(title=key, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[2].plot(epochs, [r["learning_rate"] for r in history], "o-", color="gray")
    axes[2].set(title="learning rate (end of epoch)", xlabel="epoch")
    axes[2].grid(alpha=0.3)
    _save(fig, path)


def confusion_matrix(matrix: np.ndarray, path: Path, title: str) -> None:
    """Counts of true class (rows) against predicted class (columns)."""
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(CLASS_NAMES))
    ax.set_xticks(ticks, CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, CLASS_NAMES)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = matrix.max() / 2
    for i in ticks:
        for j in ticks:
            color = "white" if matrix[i, j] > threshold else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=color, fontsize=8)
    _save(fig, path)


def prediction_grid(images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path) -> None:
    """5×3 test images, each beside its ten class probabilities: blue right, red wrong."""
    rows, cols = 5, 3
    fig = plt.figure(figsize=(4 * cols, 2 * rows))
    for i in range(min(rows * cols, len(images))):
        predicted, true = int(np.argmax(probs[i])), int(labels[i])
        color = "blue" if predicted == true else "red"
        ax = fig.add_subplot(rows, 2 * cols, 2 * i + 1)
        ax.imshow(images[i].squeeze(), cmap="binary")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(
            f"{CLASS_NAMES[predicted]} {100 * probs[i, predicted]:.0f}% ({CLASS_NAMES[true]})",
            color=color,
            fontsize=8,
        )
        ax = fig.add_subplot(rows, 2 * cols, 2 * i + 2)
        bars = ax.bar(range(10), probs[i], color="#777777")
        bars[predicted].set_color("red")
        bars[true].set_color("blue")
        ax.set_ylim(0, 1)
        ax.set_xticks(range(10))
        ax.set_yticks([])
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    _save(fig, path)


MARKERS = "XPos^Dv<>*"


def bench(rows: list[Row], batches: list[str], out_dir: Path, warning: str | None = None) -> list[Path]:
    """Three benchmark plots: latency per format and batch; accuracy against latency and size.
    `warning` (an emulated run) heads each plot."""
    labels = [f"{r.artifact} ×{r.threads or 'auto'}{' runtime call' if r.call == 'runtime' else ''}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(rows) + 3), 4.5))
    width = 0.8 / len(batches)
    for i, batch in enumerate(batches):
        per_image = [1e6 / r.throughput[batch] for r in rows]
        ax.bar(np.arange(len(rows)) + i * width, per_image, width, label=f"batch {batch}")
    ax.set_xticks(np.arange(len(rows)) + 0.4 - width / 2, labels, rotation=40, ha="right", fontsize=8)
    ax.set(yscale="log", ylabel="µs per image (median call / batch)", title="latency per format and batch size")
    fig.suptitle(warning or "", color="C3", fontsize=9)
    ax.legend()
    paths = [out_dir / "latency.png"]
    _save(fig, paths[0])
    groups = list(dict.fromkeys(r.model for r in rows))
    kinds = list(dict.fromkeys(r.artifact.split("/", 1)[1] for r in rows))  # a marker per format
    fewest = min((r.threads for r in rows if r.threads), default=0)
    shown = [r for r in rows if r.threads in (0, fewest) and r.call != "runtime"]  # one point per artifact
    for key, xlabel, name in (
        (
            lambda r: r.latency_us["p50"],
            f"batch-1 latency p50 (µs, log; {fewest or 'auto'} thread)",
            "accuracy_vs_latency.png",
        ),
        (lambda r: r.bytes / 1024, "file size (KiB, log)", "accuracy_vs_size.png"),
    ):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for row in shown:
            group, kind = row.artifact.split("/", 1)
            ax.scatter(
                key(row),
                np.nan if row.accuracy is None else 100 * row.accuracy,  # not scored: not drawn
                color=f"C{groups.index(group) % 10}",
                marker=MARKERS[kinds.index(kind) % len(MARKERS)],
                s=50,
                label=f"{group} {kind}",
            )
        ax.set(xscale="log", xlabel=xlabel, ylabel="test accuracy (%)")
        fig.suptitle(warning or "", color="C3", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=max(1, len(groups) // 2), loc="best")
        paths.append(out_dir / name)
        _save(fig, paths[-1])
    return paths


def comparison(compared: list[tuple[str, list]], path: Path) -> None:
    """The batch-1 p50 ratio of each shared row with its 95 % interval, one colour per compared report."""
    keys = list(dict.fromkeys(c.key for _, changes in compared for c in changes))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(keys) + 1.8))
    for i, (name, changes) in enumerate(compared):
        y = np.array([keys.index(c.key) for c in changes]) + i * 0.8 / len(compared)
        # a percentile interval of tied samples' medians may stop just short of the ratio itself
        low = [max(c.ratio - c.low, 0) if c.low is not None else 0 for c in changes]
        high = [max(c.high - c.ratio, 0) if c.high is not None else 0 for c in changes]
        ax.errorbar([c.ratio for c in changes], y, xerr=[low, high], fmt="o", capsize=3, color=f"C{i}", label=name)
    ax.set_yticks(np.arange(len(keys)), ["/".join(map(str, key)) for key in keys], fontsize=8)
    ax.axvline(1, color="grey", linestyle="--")
    ax.set(xlabel="batch-1 p50, new / base (95 % interval; below 1 is faster)")
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    _save(fig, path)


def profile(profiles: dict[str, dict], path: Path) -> Path:
    """Each artifact as one bar of its operators in order, each segment its share and coloured by
    its type: of the time for ONNX files, of the multiply-accumulates for TFLite files."""
    kinds = list(dict.fromkeys(o["op"] for p in profiles.values() for o in p["ops"]))
    colours = {kind: plt.get_cmap("tab20")(k % 20) for k, kind in enumerate(kinds)}
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(profiles) + 2.2))
    labels = [f"{label}{'' if p['timed'] else ' (MACs)'}" for label, p in profiles.items()]
    for row, p in enumerate(profiles.values()):
        left = 0.0
        for o in p["ops"]:
            share = 100 * o["share"]
            ax.barh(row, share, left=left, color=colours[o["op"]], edgecolor="white", linewidth=0.8)
            if share > 8:
                ax.text(left + share / 2, row, o["op"], ha="center", va="center", fontsize=7)
            left += share
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="share of the time per image at batch 64 (ONNX) or of the multiply-accumulates (TFLite), %")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in kinds]
    ax.legend(handles, kinds, fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    _save(fig, path)
    return path
