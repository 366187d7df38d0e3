"""Run an exported artifact: onnxruntime for .onnx, LiteRT for .tflite (numpy in, logits out).

Each backend reads the model contract from the file itself: input dtype and shape, the
quantisation of int8 outputs (dequantised here with the tensor's own scale and zero point)
and the metadata that travels with the artifact (class names, contract version). Both are
safe to call from several threads at once.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fmnist.errors import FmnistError

METADATA_KEY = "fmnist"  # ONNX metadata_props key / TFLite metadata name, holding JSON


class ContractError(FmnistError):
    """The artifact does not take uint8 [N,28,28,1] pixels and return [N,10] logits."""


def _check_contract(path: Path, inputs: int, outputs: int, shape, dtype: str, out_shape) -> None:
    if inputs != 1 or outputs != 1:
        raise ContractError(
            f"{path}: has {inputs} inputs and {outputs} outputs; an fmnist model has one of each"
        )
    if dtype != "uint8" or list(shape)[1:] != [28, 28, 1] or list(out_shape)[-1:] != [10]:
        shape, out_shape = (", ".join(str(d) if isinstance(d, int) and d >= 0 else "N" for d in dims)
                            for dims in (shape, out_shape))
        raise ContractError(
            f"{path}: takes {dtype} [{shape}] and returns [{out_shape}]; an fmnist model "
            "takes uint8 [N, 28, 28, 1] pixels and returns [N, 10] logits"
        )


class OnnxBackend:
    """onnxruntime on the CPU."""

    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise FmnistError(f"{path}: running .onnx models needs onnxruntime: pip install 'fmnist[onnx]'") from None

        self.path = Path(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise FmnistError(f"{self.path}: not a loadable ONNX model ({exc})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        inp, out = inputs[0], outputs[0]
        dtype = inp.type.removeprefix("tensor(").removesuffix(")")
        shape = [d if isinstance(d, int) else -1 for d in inp.shape]
        _check_contract(self.path, len(inputs), len(outputs), shape, dtype, out.shape)
        self.input_name, self.output_name = inp.name, out.name
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        self.metadata = json.loads(raw) if raw else {}

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: pixels})[0]


def _tflite_interpreter():
    """ai-edge-litert's Interpreter class, or tflite-runtime's where only that is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            return None
    return Interpreter


class LiteRTBackend:
    """ai-edge-litert's interpreter (or tflite-runtime's); one invocation at a time."""

    def __init__(self, path: str | Path, threads: int | None = None):
        Interpreter = _tflite_interpreter()
        if Interpreter is None:
            raise FmnistError(f"{path}: running .tflite models needs LiteRT: pip install 'fmnist[tflite]'")
        self.runtime = Interpreter.__module__.split(".")[0].replace("_", "-")
        self.path = Path(path)
        try:
            with _quiet_stderr():  # LiteRT logs an INFO line when it applies XNNPACK
                self.interpreter = Interpreter(
                    model_path=str(self.path), **({"num_threads": threads} if threads else {})
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise FmnistError(f"{self.path}: not a loadable TFLite model ({exc})") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        inp, out = inputs[0], outputs[0]
        _check_contract(self.path, len(inputs), len(outputs), inp["shape_signature"],
                        np.dtype(inp["dtype"]).name, out["shape"])
        self.input_index, self.output_index = inp["index"], out["index"]
        self.output_quantisation = out["quantization"]  # (scale, zero_point); (0.0, 0) if float
        self.metadata = read_tflite_metadata(self.path.read_bytes())
        self._batch = None
        self._lock = threading.Lock()  # an interpreter holds one set of tensors

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._batch != len(pixels):
                self.interpreter.resize_tensor_input(self.input_index, list(pixels.shape))
                self.interpreter.allocate_tensors()
                self._batch = len(pixels)
            self.interpreter.set_tensor(self.input_index, pixels)
            self.interpreter.invoke()
            logits = self.interpreter.get_tensor(self.output_index)  # a copy
        scale, zero_point = self.output_quantisation
        if scale:
            return (logits.astype(np.float32) - zero_point) * np.float32(scale)
        return logits


@contextmanager
def _quiet_stderr():
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
        if entry.Name() and entry.Name().decode() == METADATA_KEY:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    return {}


def open_backend(path: str | Path, threads: int | None = None):
    """The backend for a file, chosen by its suffix."""
    path = Path(path)
    if not path.is_file():
        raise FmnistError(f"{path}: no such model file")
    backends = {".onnx": OnnxBackend, ".tflite": LiteRTBackend}
    if path.suffix not in backends:
        raise FmnistError(f"{path}: unknown model format; expected .onnx or .tflite")
    return backends[path.suffix](path, threads)
