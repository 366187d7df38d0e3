"""Run the microcontroller exports on this machine: TFLite Micro's Python interpreter for a
`model_data.cc`, and the generated C engine (`fmnist_model.c`) compiled by the host's C compiler.

Both run one image at a time, as on a board, and give int8 logits dequantised the way the
LiteRT backend dequantises them, so their float logits compare with LiteRT's exactly.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fmnist import contract, formats
from fmnist.errors import FmnistError, MissingExtra

COMPILERS = formats.RUNTIMES["c"].commands  # the first found ($CC before them) compiles the C engine
_COMPILE_FLAGS = ("-std=c99", "-O2", "-shared", "-fPIC")


def model_bytes(path: Path) -> bytes:
    """The TFLite flatbuffer a `model_data.cc` holds, byte for byte."""
    text = path.read_text()
    try:
        body = text[text.index("{", text.index("fmnist_model_data[]")) + 1 : text.index("};")]
    except ValueError:
        raise FmnistError(f"{path}: not a model_data.cc of fmnist export --format tflm") from None
    return bytes(int(value, 16) for value in re.findall(r"0x([0-9a-f]{2})", body))


def _header_value(path: Path, name: str) -> int:
    found = re.search(rf"{name} = (\d+);", path.read_text()) if path.is_file() else None
    if found is None:
        raise FmnistError(f"{path}: no {name}; export --format tflm writes it beside model_data.cc")
    return int(found.group(1))


def arena_bytes(path: Path) -> int:
    """The tensor arena a `model_data.cc`'s header declares."""
    return _header_value(path.with_name("model_data.h"), "kFmnistArenaBytes")


class _Dequantised:
    """int8 logits → float32 through a table of the 256 codes, as the LiteRT backend does."""

    def __init__(self, scale: float, zero_point: int):
        self.output_quantisation = (scale, zero_point)
        codes = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32)
        self._table = (codes - zero_point) * np.float32(scale)

    def dequantise(self, logits: np.ndarray) -> np.ndarray:
        return self._table.take(logits.view(np.uint8))


class TflmBackend(_Dequantised):
    """TFLite Micro's reference kernels (PyPI's tflite-micro), in the arena the export declared."""

    runtime = "tflite-micro"

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        try:
            from tflite_micro import runtime
        except ImportError as exc:
            raise MissingExtra(f"{self.path}: running TFLite Micro models", exc.name, "mcu") from None
        self.flatbuffer = model_bytes(self.path)
        self.arena = arena_bytes(self.path)
        try:
            self.interpreter = runtime.Interpreter.from_bytes(self.flatbuffer, arena_size=self.arena)
        except (RuntimeError, ValueError) as exc:
            raise FmnistError(f"{self.path}: TFLite Micro cannot run it in {self.arena} bytes ({exc})") from None
        inp, out = self.interpreter.get_input_details(0), self.interpreter.get_output_details(0)
        contract.check_signature(self.path, 1, 1, np.dtype(inp["dtype"]).name, inp["shape"], out["shape"])
        quantisation = out["quantization_parameters"]
        super().__init__(float(quantisation["scales"][0]), int(quantisation["zero_points"][0]))
        self._lock = threading.Lock()

    @property
    def metadata(self) -> dict | None:
        from fmnist.runtime.backends import read_tflite_metadata

        return read_tflite_metadata(self.flatbuffer)

    def _int8(self, pixels: np.ndarray) -> np.ndarray:
        out = np.empty((len(pixels), contract.NUM_CLASSES), np.int8)
        with self._lock:
            for i, image in enumerate(pixels):
                self.interpreter.set_input(image[None], 0)
                self.interpreter.invoke()
                out[i] = self.interpreter.get_output(0)[0]
        return out

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.dequantise(self._int8(pixels))

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._int8


def compiler() -> str | None:
    """The C compiler found on PATH ($CC first), or None."""
    return next((found for name in (os.environ.get("CC"), *COMPILERS) if name and (found := shutil.which(name))), None)


class CBackend(_Dequantised):
    """The generated C engine, compiled here into a shared library and called through ctypes."""

    runtime = "c"

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        cc = compiler()
        if cc is None:
            raise FmnistError(f"{self.path}: running the C engine needs a C compiler (apt-get install gcc)")
        self._folder = tempfile.TemporaryDirectory(prefix="fmnist-c-")
        library = Path(self._folder.name) / "fmnist_model.so"
        built = subprocess.run(
            [cc, *_COMPILE_FLAGS, "-I", str(self.path.parent), "-o", str(library), str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise FmnistError(f"{self.path}: does not compile ({built.stderr.strip()[-300:]})")
        self.lib = ctypes.CDLL(str(library))
        self.lib.fmnist_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.fmnist_predict.restype = ctypes.c_int
        scale = ctypes.c_float.in_dll(self.lib, "fmnist_output_scale").value
        super().__init__(scale, ctypes.c_int32.in_dll(self.lib, "fmnist_output_zero_point").value)
        address = ctypes.addressof(ctypes.c_char.in_dll(self.lib, "fmnist_metadata"))
        self.metadata: dict | None = json.loads(ctypes.cast(address, ctypes.c_char_p).value or b"{}")
        self._lock = threading.Lock()  # the engine's activations live in one static buffer

    def _int8(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels, np.uint8)
        out = np.empty((len(pixels), contract.NUM_CLASSES), np.int8)
        with self._lock:
            for i in range(len(pixels)):
                self.lib.fmnist_predict(pixels[i].ctypes.data, out[i].ctypes.data)
        return out

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.dequantise(self._int8(pixels))

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._int8


def tflm_output_step(path: Path) -> float:
    return float(TflmBackend(path).output_quantisation[0])


def c_output_step(path: Path) -> float:
    return float(CBackend(path).output_quantisation[0])
