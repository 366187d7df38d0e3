"""Every artifact format fmnist exports, runs and benchmarks, in one table.

The exporter, the runtime, the bench and the command line all read `FORMATS`: adding a
format is one entry here and one converter function in ``fmnist/export/``. Formats are
looked up by name; a loose file by its runtime (its suffix) and the precision its metadata
declares. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path

from fmnist.errors import FmnistError


@dataclass(frozen=True)
class Runtime:
    """What runs one family of files, and what fmnist does differently for it. The "module:name"
    fields are imported only when used, so reading this table imports nothing heavy."""

    name: str
    suffix: str
    modules: tuple[str, ...]  # importable packages that provide it, preferred first
    extra: str  # the pip extra that installs it
    backend: str  # "module:class" of its `fmnist.runtime.backends.Backend`, called with (path, threads)
    output_step: str  # "module:function": one quantisation step of an int8 file's logits, from its path
    profile: str  # "module:function": `fmnist bench --profile` of a file, called with (path, pixels)
    options: tuple[str, ...] = ()  # export options its manifest entries record (`ExportOptions` fields)
    calibration: str | None = None  # the calibration method it always uses; None: --calibration-method
    describe: str | None = None  # "module:function": what its manifest entries add, from the artifact's path
    commands: tuple[str, ...] = ()  # programs on PATH that provide it, where no Python package does
    install: str | None = None  # how to install it, where no pip extra does
    threaded: bool = True  # its backend takes a thread count; False: it runs on one, whatever is asked

    def load(self, field: str) -> Callable:
        """The function or class named by one of the "module:name" fields."""
        module, name = getattr(self, field).split(":")
        return getattr(importlib.import_module(module), name)


RUNTIMES = {
    "onnx": Runtime(
        "onnxruntime", ".onnx", ("onnxruntime",), "onnx",
        backend="fmnist.runtime.backends:OnnxBackend", output_step="fmnist.export.golden:onnx_output_step",
        profile="fmnist.bench.profile:onnx_profile", options=("opset",),
    ),
    "tflite": Runtime(
        "LiteRT", ".tflite", ("ai_edge_litert", "tflite_runtime"), "tflite",
        backend="fmnist.runtime.backends:LiteRTBackend", output_step="fmnist.export.golden:tflite_output_step",
        profile="fmnist.bench.profile:tflite_profile", calibration="minmax",
    ),
    "tflm": Runtime(
        "TFLite Micro", ".cc", ("tflite_micro",), "mcu",
        backend="fmnist.runtime.micro:TflmBackend", output_step="fmnist.runtime.micro:tflm_output_step",
        profile="fmnist.bench.profile:tflm_profile", calibration="minmax",
        describe="fmnist.export.convert_tflm:describe", threaded=False,
    ),
    "c": Runtime(
        "a C compiler", ".c", (), "", commands=("cc", "gcc", "clang"), install="apt-get install gcc",
        backend="fmnist.runtime.micro:CBackend", output_step="fmnist.runtime.micro:c_output_step",
        profile="fmnist.bench.profile:c_profile", calibration="minmax", describe="fmnist.export.convert_c:describe",
        threaded=False,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """How far an artifact may stray from the Keras float model and still be published; None: not checked."""

    min_agreement: float | None = None  # top-1 agreement, as a fraction
    max_logit_delta: float | None = None  # largest |Δ logit|
    max_accuracy_drop: float | None = None  # accuracy lost, as a fraction
    max_source_steps: float | None = None  # largest |Δ int8 logit| against the format it is made from, in steps

    def overridden(self, given: Limits) -> Limits:
        """These limits, with each one that `given` sets replacing a limit that applies here."""
        changes = {
            f.name: getattr(given, f.name)
            for f in fields(self)
            if getattr(given, f.name) is not None and getattr(self, f.name) is not None
        }
        return replace(self, **changes)


FLOAT_LIMITS = Limits(min_agreement=0.999, max_logit_delta=1e-3)
INT8_LIMITS = Limits(max_accuracy_drop=0.005)


@dataclass(frozen=True)
class Format:
    """One kind of exported artifact."""

    name: str  # what users type: `export --format`, `predict --model`, bench rows
    file: str  # its file name in an export folder
    family: str  # a key of RUNTIMES: the file type and what runs it
    precision: str  # "float32", "int8", ...: int8 formats are calibrated
    converter: str  # "module:function", called with an export Job; imported only when exporting
    how: str  # what the converter does, for the export's stage list
    limits: Limits
    preference: int  # an export folder's artifact when none is named: the lowest that can run
    source: str | None = None  # the format this one is made from; built first, published only if asked
    companions: tuple[str, ...] = ()  # files published beside `file` (headers)
    in_all: bool = True  # part of `--format all`; the microcontroller formats are asked for by name
    onnx_converter: str | None = None  # "module:function" making it from a user's ONNX model; None: it cannot

    @property
    def runtime(self) -> Runtime:
        return RUNTIMES[self.family]

    @property
    def calibrated(self) -> bool:
        return self.precision == "int8"

    @property
    def calibrates(self) -> bool:
        """Whether its converter calibrates (an int8 format made from another int8 format keeps its ranges)."""
        return self.calibrated and not (self.source and FORMATS[self.source].calibrated)


# LiteRT (XNNPACK) rounds the last layer's sums differently from TFLite Micro's reference kernels:
# up to 2 output steps measured on the shipped model; the C engine computes TFLite Micro's bytes.
FORMATS = {
    f.name: f
    for f in (
        Format(
            name="onnx", file="model.onnx", family="onnx", precision="float32",
            converter="fmnist.export.convert_onnx:to_onnx", how="convert with tf2onnx",
            limits=FLOAT_LIMITS, preference=3, onnx_converter="fmnist.export.convert_onnx:adopt",
        ),
        Format(
            name="onnx-int8", file="model.int8.onnx", family="onnx", precision="int8",
            converter="fmnist.export.convert_onnx:quantize", how="calibrate and quantise (QDQ)",
            limits=INT8_LIMITS, preference=2, source="onnx",
        ),
        Format(
            name="tflite", file="model.tflite", family="tflite", precision="float32",
            converter="fmnist.export.convert_tflite:to_tflite", how="convert",
            limits=FLOAT_LIMITS, preference=4,
        ),
        Format(
            name="tflite-int8", file="model.int8.tflite", family="tflite", precision="int8",
            converter="fmnist.export.convert_tflite:to_tflite_int8", how="calibrate and convert to full-integer",
            limits=INT8_LIMITS, preference=1,
        ),
        Format(
            name="tflm", file="model_data.cc", family="tflm", precision="int8",
            converter="fmnist.export.convert_tflm:to_tflm", how="write as a C array, measure its arena",
            limits=replace(INT8_LIMITS, max_source_steps=3), preference=5, source="tflite-int8",
            companions=("model_data.h", "model_ops.h"), in_all=False,
        ),
        Format(
            name="c", file="fmnist_model.c", family="c", precision="int8",
            converter="fmnist.export.convert_c:to_c", how="generate a self-contained C99 engine",
            limits=replace(INT8_LIMITS, max_source_steps=0), preference=6, source="tflm",
            companions=("fmnist_model.h",), in_all=False,
        ),
    )
}  # fmt: skip


def names() -> str:
    """The format names, for help texts and error messages."""
    return ", ".join(FORMATS)


def get(name: str) -> Format:
    if name not in FORMATS:
        raise FmnistError(f"unknown format {name!r}; choose from {names()}")
    return FORMATS[name]


def select(values: Iterable[str], makes: Callable[[Format], bool] | None = None) -> list[Format]:
    """Formats named in `values` (each may hold several separated by commas, or "all": those in `--format
    all` that `makes` accepts), each once."""
    wanted = [v.strip() for value in values for v in value.split(",") if v.strip()]
    if not wanted:
        raise FmnistError(f"no format given; choose from {names()} or all")
    for name in wanted:
        if name != "all" and name not in FORMATS:
            raise FmnistError(f"unknown format {name!r}; choose from {names()} or all")
    every = "all" in wanted
    return [f for f in FORMATS.values() if f.name in wanted or (every and f.in_all and (makes is None or makes(f)))]


def made_from_onnx(fmt: Format) -> bool:
    """Whether an ONNX model can make this format (itself or the format it is made from)."""
    return fmt.onnx_converter is not None or (fmt.source is not None and made_from_onnx(FORMATS[fmt.source]))


def build_order(formats: Iterable[Format]) -> list[Format]:
    """`formats` and the formats they are made from, each after its source."""
    ordered: list[Format] = []

    def add(fmt: Format) -> None:
        if fmt.source:
            add(FORMATS[fmt.source])
        if fmt not in ordered:
            ordered.append(fmt)

    for fmt in formats:
        add(fmt)
    return ordered


def suffixes() -> str:
    """The model files' suffixes, for messages: ".onnx, .tflite, .cc or .c"."""
    listed = [r.suffix for r in RUNTIMES.values()]
    return ", ".join(listed[:-1]) + " or " + listed[-1]


def family_of(path: Path) -> str:
    """The family of a model file, by its suffix."""
    for family, runtime in RUNTIMES.items():
        if path.suffix == runtime.suffix:
            return family
    raise FmnistError(f"{path}: unknown model format; expected {suffixes()}")


def find(family: str, precision: str) -> Format | None:
    """The format of a file of this family whose metadata declares this precision."""
    return next((f for f in FORMATS.values() if f.family == family and f.precision == precision), None)


def installed(family: str) -> bool:
    """Whether a runtime for this family can be imported (or its program run) here."""
    runtime = RUNTIMES[family]
    return any(importlib.util.find_spec(m) for m in runtime.modules) or any(map(shutil.which, runtime.commands))


def not_installed(path: Path) -> str | None:
    """Why no installed runtime can run the model file `path` (with the pip command), or None."""
    family = family_of(path)
    if installed(family):
        return None
    runtime = RUNTIMES[family]
    install = runtime.install or f"pip install 'fmnist[{runtime.extra}]'"
    return f"{runtime.name} is not installed ({install})"
