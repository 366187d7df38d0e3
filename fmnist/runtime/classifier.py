"""`Classifier`: one exported artifact behind predict / predict_proba / top_k.

    clf = Classifier.load()                     # the shipped int8 model
    clf = Classifier.load("runs/edge")          # the best artifact of a run's (or an export) folder
    labels = clf.predict(pixels)                # uint8 [N,28,28,1], [N,28,28] or [28,28]

The artifact's runtime comes from its format (`fmnist.formats`), never from TensorFlow.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fmnist import contract, folders, formats
from fmnist.errors import FmnistError
from fmnist.files import sha256_file
from fmnist.runtime.backends import open_backend

if TYPE_CHECKING:
    import numpy.typing as npt

CHUNK = 1024  # images per backend call: bounds the memory of a large input
LOW_CONFIDENCE = 0.5  # a best class less probable than this is a guess, and is marked as one


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
        # the manifest beside the file when it lists this very file (its sha256), else the file's own metadata
        manifest = folders.manifest_or_none(self.path.parent)
        self.entry = manifest.entry_for(self.path, sha256_file(self.path)) if manifest else None
        self.manifest = manifest if self.entry else None
        metadata = {**self.manifest.header, "precision": self.entry.precision} if self.manifest and self.entry else {}
        metadata = metadata or self.backend.metadata or {}
        self.class_names: tuple[str, ...] = contract.check_metadata(self.path, metadata)
        self.precision: str = metadata.get("precision", "unknown")
        self.format = formats.find(formats.family_of(self.path), self.precision)

    def with_threads(self, threads: int | None) -> Classifier:
        """The same model and records on a backend of its own with this many threads."""
        twin = copy.copy(self)
        twin.backend = open_backend(self.path, threads)
        return twin

    @classmethod
    def load(cls, model: str | Path | None = None, threads: int | None = None) -> Classifier:
        """Open a model file, an export or run folder, a shipped format name, or (None) the shipped model."""
        return cls(folders.locate(model).runnable(), threads)

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

    def answers(self, pixels: npt.ArrayLike, k: int = 3) -> list[dict]:
        """Per image, what `fmnist predict --json` and `fmnist serve` answer: the best class (name,
        label, probability rounded to 6 decimals), whether it is a low-confidence guess, and the k best."""
        indices, probs = self.top_k(pixels, k)
        found = []
        for best, p in zip(indices.tolist(), probs.tolist(), strict=True):
            named = zip(best, p, strict=True)
            ranked = [{"class": self.class_names[c], "label": c, "probability": round(q, 6)} for c, q in named]
            found.append({**ranked[0], "low_confidence": ranked[0]["probability"] < LOW_CONFIDENCE, "top_k": ranked})
        return found

    def __repr__(self) -> str:
        return f"Classifier({str(self.path)!r}, runtime={self.runtime!r}, precision={self.precision!r})"
