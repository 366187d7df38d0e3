"""What `fmnist export` makes artifacts from: an fmnist run's model, a user's Keras file, or a user's ONNX file.

`open_source` reads the file, works out the adapters between the contract and the model
(`fmnist.adapters`), and refuses what fmnist cannot take before anything is written. A `Source`
runs the model as the user gave it (`outputs`: their Keras model in Keras, their ONNX file in
onnxruntime), which is what every artifact is verified against, and holds the adapted model the
converters are given (uint8 pixels in, logits out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract, folders
from fmnist.adapters import Adapters, Scaling, scaling
from fmnist.errors import FmnistError
from fmnist.files import sha256_file

RESAVE = "save it where it was built with model.save('my_model.keras') and export that file"


@dataclass(frozen=True)
class Source:
    """A model to export, as the user gave it, and its adaptation to the contract."""

    kind: str  # "fmnist" (a run's model), "keras" or "onnx"
    path: Path
    sha256: str
    given: Any  # the model as loaded: a Keras model or an onnx.ModelProto
    adapters: Adapters
    model: Any  # what the converters take: the adapted model (uint8 pixels in, logits out)

    @property
    def family(self) -> str:
        """What the converters take: a Keras model ("keras") or an ONNX graph ("onnx")."""
        return "onnx" if self.kind == "onnx" else "keras"

    @property
    def runs_in(self) -> str:
        return "onnxruntime" if self.kind == "onnx" else "Keras"

    def outputs(self, pixels: np.ndarray) -> np.ndarray:
        """The user's model, as given, on uint8 pixels fed as it takes them."""
        return self.outputs_with(self.adapters, pixels)

    def outputs_with(self, adapters: Adapters, pixels: np.ndarray) -> np.ndarray:
        """The user's model, as given, on uint8 pixels fed as `adapters` say."""
        if self.kind == "onnx":
            from fmnist.export import onnx_source

            return onnx_source.outputs(self.path, self.given, adapters, pixels)
        from fmnist.export import keras_source

        return keras_source.outputs(self.given, adapters, pixels)

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """The adapted model's logits: what every artifact must compute."""
        if self.kind == "onnx":
            from fmnist.export import onnx_source

            return onnx_source.run(self.model, pixels)
        return np.asarray(self.model.predict(pixels, batch_size=1000, verbose=0), dtype=np.float32)

    def to_json(self) -> dict:
        """What the manifest records of the source (beside its test accuracy and training)."""
        record = {"kind": self.kind, "path": str(self.path), "sha256": self.sha256}
        return record if self.kind == "fmnist" else {**record, "adapters": self.adapters.to_json()}


def _refuse_tensorflow_files(path: Path) -> None:
    if path.is_dir() and (path / "saved_model.pb").is_file():
        raise FmnistError(f"{path}: a TensorFlow SavedModel, which Keras 3 does not load for export; {RESAVE}")
    if path.suffix == ".pb":
        raise FmnistError(f"{path}: a TensorFlow graph file, which Keras 3 does not load for export; {RESAVE}")


def open_source(path: Path, scale: Scaling | None = None) -> Source:
    """The model in `path` (.keras, .h5 or .onnx), with its adapters (`scale`: what its input expects,
    by default pixels / 255); anything fmnist cannot take is an `FmnistError` naming what it takes."""
    _refuse_tensorflow_files(path)
    if not path.is_file():
        raise FmnistError(f"{path}: no such file or folder")
    if path.suffix not in folders.SOURCE_SUFFIXES:
        raise FmnistError(f"{path}: not a model file export takes; give a .keras, .h5 or .onnx file or a run folder")
    scale = scale or scaling("unit")
    if path.suffix == ".onnx":
        from fmnist.export import onnx_source

        given, adapters = onnx_source.load(path, scale)
        model = onnx_source.adapted(given, adapters)
        _check_batch(path, model, given)
        return Source("onnx", path, sha256_file(path), given, adapters, model)
    from fmnist.export import keras_source

    given, adapters = keras_source.load(path, scale)
    own = path.name == folders.MODEL and (path.parent / folders.METRICS).is_file()
    return Source("fmnist" if own else "keras", path, sha256_file(path), given, adapters,
                  keras_source.adapted(given, adapters))  # fmt: skip


def _check_batch(path: Path, model: Any, given: Any) -> None:
    """Refuse an ONNX graph whose operators fix the batch size, which the contract leaves open."""
    from fmnist.export import onnx_source

    try:
        logits = onnx_source.run(model, np.zeros((2, *contract.INPUT_SHAPE), np.uint8))
        fits = logits.shape == (2, contract.NUM_CLASSES)
    except Exception:  # noqa: BLE001 -- onnxruntime raises its own kinds for a shape it cannot run
        fits = False
    if not fits:
        fixed = onnx_source.batch_of(given)
        raise FmnistError(
            f"{path}: its graph runs one batch size only ({fixed or 'fixed inside the graph'}), and an fmnist model "
            "takes any; export it again with a dynamic batch (torch.onnx.export(..., dynamic_axes={'input': "
            "{0: 'N'}, 'output': {0: 'N'}}), or dynamic_shapes with dynamo=True) and flatten with "
            "x.flatten(1) rather than x.view(1, -1)"
        )
