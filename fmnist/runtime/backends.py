"""Run an exported artifact: onnxruntime for .onnx, LiteRT for .tflite (numpy in, logits out).

Each backend reads the model contract from the file itself: input dtype and shape, the
quantisation of int8 outputs (dequantised here with the tensor's own scale and zero point)
and the metadata that travels with the artifact (class names, contract version). Both are
safe to call from several threads at once.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fmnist import contract, formats
from fmnist.errors import FmnistError, MissingExtra


class Backend(Protocol):
    """What the runtime needs of a model file, whatever runs it."""

    path: Path
    runtime: str  # the package that runs it: onnxruntime, ai-edge-litert or tflite-runtime

    @property
    def metadata(self) -> dict | None:
        """The fmnist metadata inside the file ({} if none); None where it cannot be read here."""
        ...

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """float32 logits [N, 10] of uint8 pixels [N, 28, 28, 1]."""
        ...

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        """The runtime's own call, without fmnist around it (int8 logits stay quantised; not
        thread-safe): what the bench measures beside the Classifier to show its overhead."""
        ...


class OnnxBackend:
    """onnxruntime on the CPU."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingExtra(f"{self.path}: running .onnx models", exc.name, "onnx") from None

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own untyped errors
            raise FmnistError(f"{self.path}: not a loadable ONNX model ({exc})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        dtype = inputs[0].type.removeprefix("tensor(").removesuffix(")")
        contract.check_signature(self.path, len(inputs), len(outputs), dtype, inputs[0].shape, outputs[0].shape)
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        raw = self.session.get_modelmeta().custom_metadata_map.get(contract.METADATA_KEY)
        self.metadata: dict | None = json.loads(raw) if raw else {}

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: pixels})[0]

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        session, outputs, name = self.session, [self.output_name], self.input_name
        return lambda pixels: session.run(outputs, {name: pixels})[0]


def _tflite_interpreter() -> type[Any] | None:
    """ai-edge-litert's Interpreter class, or tflite-runtime's where only that is installed."""
    for module in formats.RUNTIMES["tflite"].modules:
        try:
            return importlib.import_module(f"{module}.interpreter").Interpreter
        except ImportError:
            continue
    return None


class LiteRTBackend:
    """ai-edge-litert's interpreter (or tflite-runtime's); one invocation at a time."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        interpreter = _tflite_interpreter()
        if interpreter is None:
            raise MissingExtra(f"{self.path}: running .tflite models", "LiteRT", "tflite")
        self.runtime = interpreter.__module__.split(".")[0].replace("_", "-")
        try:
            with _quiet_stderr():  # LiteRT logs an INFO line when it applies XNNPACK
                self.interpreter = interpreter(
                    model_path=str(self.path), **({"num_threads": threads} if threads else {})
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise FmnistError(f"{self.path}: not a loadable TFLite model ({exc})") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        inp, out = inputs[0], outputs[0]
        contract.check_signature(
            self.path, len(inputs), len(outputs), np.dtype(inp["dtype"]).name, inp["shape_signature"], out["shape"]
        )
        self.input_index, self.output_index = inp["index"], out["index"]
        self.output_quantisation = out["quantization"]  # (scale, zero_point); (0.0, 0) if float
        scale, zero_point = self.output_quantisation
        self._dequantised = dequantisation_table(scale, zero_point) if scale else None
        self._batch: int | None = None
        self._lock = threading.Lock()  # an interpreter holds one set of tensors

    @functools.cached_property
    def metadata(self) -> dict | None:  # read when asked: the flatbuffer schema takes 10 ms to import
        return read_tflite_metadata(self.path.read_bytes())

    def _fit(self, pixels: np.ndarray) -> None:
        """Size the input tensor for this batch (a new size reallocates the tensors)."""
        if self._batch != len(pixels):
            self.interpreter.resize_tensor_input(self.input_index, list(pixels.shape))
            self.interpreter.allocate_tensors()
            self._batch = len(pixels)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        with self._lock:
            self._fit(pixels)
            self.interpreter.set_tensor(self.input_index, pixels)
            self.interpreter.invoke()
            if self._dequantised is None:
                return self.interpreter.get_tensor(self.output_index)  # a copy
            return self._dequantised.take(self.interpreter.get_tensor(self.output_index).view(np.uint8))

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        interpreter, given, result = self.interpreter, self.input_index, self.output_index

        def call(pixels: np.ndarray) -> np.ndarray:
            self._fit(pixels)
            interpreter.set_tensor(given, pixels)
            interpreter.invoke()
            return interpreter.get_tensor(result)

        return call


def dequantisation_table(scale: float, zero_point: int) -> np.ndarray:
    """float32 logits of all 256 int8 codes, indexed by the code's byte: one numpy call per batch."""
    codes = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32)
    return (codes - zero_point) * np.float32(scale)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence native code writing to file descriptor 2 (Python exceptions still raise)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_tflite_metadata(flatbuffer: bytes) -> dict | None:
    """The fmnist JSON metadata entry of a TFLite flatbuffer: {} when it has none, None when
    it cannot be read here (tflite-runtime ships no schema; the manifest then tells)."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return None

    model = schema.Model.GetRootAs(flatbuffer, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name() and entry.Name().decode() == contract.METADATA_KEY:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return {}


def open_backend(path: str | Path, threads: int | None = None) -> Backend:
    """The backend for a model file, chosen by its family (its suffix)."""
    path = Path(path)
    if not path.is_file():
        raise FmnistError(f"{path}: no such model file")
    return formats.RUNTIMES[formats.family_of(path)].load("backend")(path, threads)
