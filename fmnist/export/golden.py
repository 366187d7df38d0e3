"""Golden vectors: a few test images per class and what each artifact computed for them at export.

`golden.npz` beside the artifacts holds the images, their true labels and indices in the test
set, and for each artifact its file, sha256, logits, and the tolerance `fmnist check` allows
on another machine: one quantisation step of its output for an int8 model, the format's
`max_logit_delta` limit for a float one. Plain arrays only: it loads with allow_pickle=False.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist import contract, data
from fmnist.files import atomic_path, sha256_file
from fmnist.formats import Format

FILE = contract.GOLDEN_FILE
PER_CLASS = 3
SEED = 0


def indices(labels: np.ndarray) -> np.ndarray:
    """Which test images: PER_CLASS of each class, chosen by a fixed seed."""
    return data.stratified_subset(labels, PER_CLASS * (int(labels.max()) + 1), SEED)


def output_step(fmt: Format, path: Path) -> float:
    """One quantisation step of an int8 artifact's logits, or the float format's logit limit."""
    if fmt.precision != "int8":
        return float(fmt.limits.max_logit_delta or 1e-3)
    if fmt.family == "tflite":
        from fmnist.runtime.backends import LiteRTBackend

        return float(LiteRTBackend(path).output_quantisation[0])
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    (last,) = (node for node in graph.node if graph.output[0].name in node.output)
    scale = next(i for i in graph.initializer if i.name == last.input[1])  # DequantizeLinear's scale
    return float(numpy_helper.to_array(scale))


def arrays(fmt: Format, path: Path, logits: np.ndarray) -> dict[str, np.ndarray]:
    """One artifact's entries: its golden logits, tolerance, file and sha256."""
    return {
        f"{fmt.name}.logits": logits.astype(np.float32),
        f"{fmt.name}.tolerance": np.float32(output_step(fmt, path)),
        f"{fmt.name}.file": np.str_(fmt.file),
        f"{fmt.name}.sha256": np.str_(sha256_file(path)),
    }


def previous(out_dir: Path, chosen: np.ndarray, kept: set[str]) -> dict[str, np.ndarray]:
    """The entries of an older golden file for the artifacts still published from the same model."""
    try:
        with np.load(out_dir / FILE, allow_pickle=False) as old:
            if not np.array_equal(old["indices"], chosen):
                return {}
            return {key: old[key] for key in old.files if key.split(".")[0] in kept}
    except (OSError, ValueError, KeyError):
        return {}


def write(out_dir: Path, pixels: np.ndarray, labels: np.ndarray, chosen: np.ndarray, entries: dict) -> None:
    """golden.npz, atomically: the images and each artifact's entries."""
    with atomic_path(out_dir / FILE) as tmp, open(tmp, "wb") as file:
        np.savez(file, images=pixels[chosen], labels=labels[chosen], indices=chosen, **entries)
