"""`Classifier`: one exported artifact behind predict / predict_proba / top_k.

    clf = Classifier.load()                     # the shipped int8 model
    clf = Classifier.load("runs/edge/export")   # the best artifact of an export folder
    labels = clf.predict(pixels)                # uint8 [N,28,28,1], [N,28,28] or [28,28]

The artifact's runtime comes from its format (`fmnist.formats`), never from TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fmnist import contract, formats
from fmnist.errors import FmnistError
from fmnist.files import sha256_file
from fmnist.runtime.backends import open_backend

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_MODEL_DIR = Path(__file__).with_name("default_model")
CHUNK = 1024  # images per backend call: bounds the memory of a large input
LOW_CONFIDENCE = 0.5  # a best class less probable than this is a guess, and is marked as one


def resolve(model: str | Path | None = None) -> Path:
    """The artifact file meant by `model`: a .onnx/.tflite file, an export folder (its preferred
    artifact that an installed runtime can run), a format name of the shipped model, or None
    (the shipped model)."""
    if model is None or (str(model) in formats.FORMATS and not Path(model).exists()):
        folder, wanted = DEFAULT_MODEL_DIR, None if model is None else formats.FORMATS[str(model)]
    else:
        folder, wanted = Path(model), None
        if not folder.is_dir():
            if not folder.exists():
                shipped = ", ".join(f.name for f in formats.FORMATS.values() if (DEFAULT_MODEL_DIR / f.file).is_file())
                raise FmnistError(
                    f"{model}: no such model file or folder, nor a format of the shipped model ({shipped})"
                )
            return folder
    present = sorted((f for f in formats.FORMATS.values() if (folder / f.file).is_file()), key=lambda f: f.preference)
    if wanted:
        if wanted not in present:
            raise FmnistError(
                f"the shipped model has no {wanted.name} artifact; it has {', '.join(f.name for f in present)}"
            )
        return folder / wanted.file
    if not present:
        raise FmnistError(
            f"{folder}: no model file of any format ({', '.join(f.file for f in formats.FORMATS.values())})"
        )
    runnable = [f for f in present if formats.installed(f.family)]
    if not runnable:
        needed = {f.runtime for f in present}
        raise FmnistError(
            f"{folder}: no runtime installed for its models; "
            + " or ".join(f"pip install 'fmnist[{r.extra}]' ({r.name})" for r in needed)
        )
    return folder / runnable[0].file


def manifest_entry(path: Path) -> dict:
    """The manifest.json entry (plus its top-level fields) describing this exact file, or {}."""
    manifest_path = path.with_name("manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["artifacts"].values()
    except (OSError, ValueError, KeyError, AttributeError):
        return {}
    digest = sha256_file(path)
    for entry in entries:
        if isinstance(entry, dict) and entry.get("file") == path.name and entry.get("sha256") == digest:
            top = {key: manifest[key] for key in ("contract", "class_names") if key in manifest}
            return {**top, "source": manifest.get("source", {}), **entry}
    return {}


def as_pixels(pixels: npt.ArrayLike) -> np.ndarray:
    """Check and shape model input: uint8 [N,28,28,1] from [N,28,28,1], [N,28,28] or [28,28]."""
    if isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.shape[1:] == contract.INPUT_SHAPE:
        return np.ascontiguousarray(pixels)  # what a caller usually passes: no other check needed
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise FmnistError(
            f"pixels must be uint8 0..255 (garment bright on black), not {array.dtype}; "
            "read photos with fmnist.runtime.load_image"
        )
    if array.shape == contract.INPUT_SHAPE[:2]:
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != contract.INPUT_SHAPE:
        raise FmnistError(f"pixels must be [N, 28, 28, 1], [N, 28, 28] or [28, 28], not {list(np.shape(pixels))}")
    return np.ascontiguousarray(array)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


class Classifier:
    """A Fashion-MNIST classifier run by onnxruntime or LiteRT; safe to share between threads."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        self.backend = open_backend(self.path, threads)
        self.runtime = self.backend.runtime
        self.manifest = manifest_entry(self.path)
        # the manifest's entry for this very file (its sha256), else the file's own metadata
        metadata = self.manifest or self.backend.metadata or {}
        self.class_names: tuple[str, ...] = contract.check_metadata(self.path, metadata)
        self.precision: str = metadata.get("precision") or self.manifest.get("precision", "unknown")
        self.format = formats.find(formats.family_of(self.path), self.precision)

    @classmethod
    def load(cls, model: str | Path | None = None, threads: int | None = None) -> Classifier:
        """Open a model file, an export folder, a shipped format name, or (None) the shipped model."""
        return cls(resolve(model), threads)

    def logits(self, pixels: npt.ArrayLike) -> np.ndarray:
        """float32 [N, 10] logits (int8 outputs dequantised)."""
        pixels = as_pixels(pixels)
        if len(pixels) == 0:
            return np.zeros((0, contract.NUM_CLASSES), np.float32)
        if len(pixels) <= CHUNK:
            return self.backend(pixels)
        return np.concatenate([self.backend(pixels[i : i + CHUNK]) for i in range(0, len(pixels), CHUNK)])

    def predict_proba(self, pixels: npt.ArrayLike) -> np.ndarray:
        """float32 [N, 10] class probabilities."""
        return softmax(self.logits(pixels))

    def predict(self, pixels: npt.ArrayLike) -> np.ndarray:
        """int [N] class indices; `class_names[i]` names them."""
        return self.logits(pixels).argmax(axis=1)

    def top_k(self, pixels: npt.ArrayLike, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """The k most likely classes per image, best first: (indices [N,k], probabilities [N,k])."""
        if not 1 <= k <= contract.NUM_CLASSES:
            raise FmnistError(f"top-k must be between 1 and {contract.NUM_CLASSES}, not {k}")
        proba = self.predict_proba(pixels)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(proba, order, axis=1)

    def __repr__(self) -> str:
        return f"Classifier({str(self.path)!r}, runtime={self.runtime!r}, precision={self.precision!r})"
