"""Run the microcontroller exports on this machine: TFLite Micro's Python interpreter for a
`model_data.cc`, and the generated C engine (`fmnist_model.c`) compiled by the host's C compiler.

Both run one image at a time, as on a board, and dequantise their int8 logits through the LiteRT
backend's table, so their float logits compare with LiteRT's exactly.
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
from fmnist.runtime.backends import dequantisation_table, read_tflite_metadata

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


def header_value(path: Path, name: str) -> int:
    """A constant that the header beside a `model_data.cc` declares (kFmnistArenaBytes, ...)."""
    header = path.with_name("model_data.h")
    found = re.search(rf"{name} = (\d+);", header.read_text()) if header.is_file() else None
    if found is None:
        raise FmnistError(f"{header}: no {name}; export --format tflm writes it beside model_data.cc")
    return int(found.group(1))


def arena_bytes(path: Path) -> int:
    """The tensor arena a `model_data.cc`'s header declares."""
    return header_value(path, "kFmnistArenaBytes")


class _OneImageAtATime:
    """What both backends share: int8 logits one image at a time (`_int8`), dequantised through the
    LiteRT backend's table of the 256 codes."""

    def __init__(self, scale: float, zero_point: int):
        self.output_quantisation = (scale, zero_point)
        self._table = dequantisation_table(scale, zero_point)
        self._lock = threading.Lock()  # one interpreter, or one static buffer

    def _int8(self, pixels: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self._table.take(self._int8(pixels).view(np.uint8))

    def bare(self) -> Callable[[np.ndarray], np.ndarray]:
        return self._int8


class TflmBackend(_OneImageAtATime):
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

    @property
    def metadata(self) -> dict | None:
        return read_tflite_metadata(self.flatbuffer)

    def _int8(self, pixels: np.ndarray) -> np.ndarray:
        out = np.empty((len(pixels), contract.NUM_CLASSES), np.int8)
        with self._lock:
            for i, image in enumerate(pixels):
                self.interpreter.set_input(image[None], 0)
                self.interpreter.invoke()
                out[i] = self.interpreter.get_output(0)[0]
        return out


def compiler() -> str | None:
    """The C compiler found on PATH ($CC first), or None."""
    return next((found for name in (os.environ.get("CC"), *COMPILERS) if name and (found := shutil.which(name))), None)


class CBackend(_OneImageAtATime):
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
        try:
            self.lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise FmnistError(f"{self.path}: compiled by {cc}, but its library does not load ({exc})") from None
        self.lib.fmnist_predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.fmnist_predict.restype = ctypes.c_int
        scale = ctypes.c_float.in_dll(self.lib, "fmnist_output_scale").value
        super().__init__(scale, ctypes.c_int32.in_dll(self.lib, "fmnist_output_zero_point").value)
        address = ctypes.addressof(ctypes.c_char.in_dll(self.lib, "fmnist_metadata"))
        self.metadata: dict | None = json.loads(ctypes.cast(address, ctypes.c_char_p).value or b"{}")

    def _int8(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.ascontiguousarray(pixels, np.uint8)
        out = np.empty((len(pixels), contract.NUM_CLASSES), np.int8)
        with self._lock:
            for i in range(len(pixels)):
                self.lib.fmnist_predict(pixels[i].ctypes.data, out[i].ctypes.data)
        return out


def tflm_output_step(path: Path) -> float:
    return float(TflmBackend(path).output_quantisation[0])


def c_output_step(path: Path) -> float:
    """The engine's `fmnist_output_scale`, read from its source (compiling it would give the same float)."""
    found = re.search(r"const float fmnist_output_scale = (\S+)f;", path.read_text())
    if found is None:
        raise FmnistError(f"{path}: no fmnist_output_scale; not a C engine of fmnist export --format c")
    return float(np.float32(found.group(1)))
