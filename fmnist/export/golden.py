"""Golden vectors: a few test images per class and what each artifact computed for them at export.

`golden.npz` beside the artifacts holds the images, their true labels and indices in the test
set, and for each artifact its file, sha256, logits, and the tolerance `fmnist check` allows
on another machine: one quantisation step of its output for an int8 model, the format's
`max_logit_delta` limit for a float one. Plain arrays only: it loads with allow_pickle=False.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist import data, folders
from fmnist.errors import FmnistError
from fmnist.formats import Format

PER_CLASS = 3
SEED = 0


def indices(labels: np.ndarray) -> np.ndarray:
    """Which test images: PER_CLASS of each class, chosen by a fixed seed."""
    return data.stratified_subset(labels, PER_CLASS * (int(labels.max()) + 1), SEED)


def output_step(fmt: Format, path: Path) -> float:
    """One quantisation step of an int8 artifact's logits, or the float format's logit limit."""
    if fmt.precision != "int8":
        return float(fmt.limits.max_logit_delta or 1e-3)
    return float(fmt.runtime.load("output_step")(path))


def tflite_output_step(path: Path) -> float:
    """The int8 output tensor's scale, as LiteRT reads it."""
    from fmnist.runtime.backends import LiteRTBackend

    return float(LiteRTBackend(path).output_quantisation[0])


def onnx_output_step(path: Path) -> float:
    """The scale of the DequantizeLinear that makes the float logits."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    (last,) = (node for node in graph.node if graph.output[0].name in node.output)
    scale = next(i for i in graph.initializer if i.name == last.input[1])
    return float(numpy_helper.to_array(scale))


def values(fmt: Format, path: Path, sha256: str, logits: np.ndarray) -> folders.GoldenValues:
    """One artifact's golden values: its logits for the golden images, tolerance, file and sha256."""
    return folders.GoldenValues(logits.astype(np.float32), output_step(fmt, path), fmt.file, sha256)


def previous(out_dir: Path, chosen: np.ndarray, kept: set[str]) -> dict[str, folders.GoldenValues]:
    """The values of an older golden file for the artifacts still published from the same model."""
    try:
        old = folders.read_golden(out_dir)
    except FmnistError:
        return {}
    if not np.array_equal(old.indices, chosen):
        return {}
    return {name: values for name, values in old.artifacts.items() if name in kept}
