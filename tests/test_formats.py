"""The format registry: what it promises, and that one entry is all a new format needs."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from fmnist import formats
from fmnist.errors import FmnistError
from fmnist.formats import FORMATS, RUNTIMES, Format, Limits


def test_every_entry_is_complete_and_consistent():
    assert len({f.file for f in FORMATS.values()}) == len(FORMATS)
    assert sorted(f.preference for f in FORMATS.values()) == list(range(1, len(FORMATS) + 1))
    for fmt in FORMATS.values():
        assert fmt.family in RUNTIMES and fmt.file.endswith(fmt.runtime.suffix), fmt.name
        assert fmt.source is None or list(FORMATS).index(fmt.source) < list(FORMATS).index(fmt.name)
        module, function = fmt.converter.split(":")
        assert callable(getattr(importlib.import_module(module), function)), fmt.name  # no TensorFlow needed
        assert fmt.calibrated == (fmt.precision == "int8")
    assert FORMATS["onnx"].limits.max_accuracy_drop is None  # the int8 limit does not apply to float
    assert FORMATS["tflite-int8"].limits.min_agreement is None
    assert [f.name for f in FORMATS.values() if f.calibrates] == ["onnx-int8", "tflite-int8"]  # tflm, c: made from int8
    assert (FORMATS["tflm"].limits.max_source_steps, FORMATS["c"].limits.max_source_steps) == (3, 0)


def test_the_registry_imports_nothing_heavy():
    heavy = ("numpy", "tensorflow", "onnxruntime")
    code = f"import sys, fmnist.formats\nprint(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


def test_select_and_build_order():
    assert [f.name for f in formats.select(["all"])] == ["onnx", "onnx-int8", "tflite", "tflite-int8"]
    assert [f.name for f in formats.select(["all", "c"])] == ["onnx", "onnx-int8", "tflite", "tflite-int8", "c"]
    assert [f.name for f in formats.build_order(formats.select(["c"]))] == ["tflite-int8", "tflm", "c"]
    assert [f.name for f in formats.select(["tflite-int8, onnx", "onnx"])] == ["onnx", "tflite-int8"]
    assert [f.name for f in formats.build_order(formats.select(["onnx-int8"]))] == ["onnx", "onnx-int8"]
    with pytest.raises(FmnistError, match=r"unknown format 'tflite-fp8'; choose from onnx, onnx-int8, .* or all"):
        formats.select(["onnx,tflite-fp8"])
    with pytest.raises(FmnistError, match="no format given"):
        formats.select([" , "])


def test_limits_given_replace_only_those_that_apply():
    given = Limits(min_agreement=0.9, max_accuracy_drop=0.02)
    assert FORMATS["onnx"].limits.overridden(given) == Limits(min_agreement=0.9, max_logit_delta=1e-3)
    assert FORMATS["onnx-int8"].limits.overridden(given) == Limits(max_accuracy_drop=0.02)
    assert FORMATS["onnx"].limits.overridden(Limits()) == FORMATS["onnx"].limits


def test_files_are_told_apart_by_suffix_and_declared_precision(tmp_path):
    assert formats.family_of(tmp_path / "a.int8.tflite") == "tflite"
    assert formats.find("onnx", "int8") is FORMATS["onnx-int8"] and formats.find("onnx", "float16") is None
    with pytest.raises(FmnistError, match=r"model.pt: unknown model format; expected .onnx, .tflite, .cc or .c"):
        formats.family_of(tmp_path / "model.pt")


def to_tflite_fp16(job) -> None:
    """A converter written as a new format's author would: float16 weights, float compute."""
    import tensorflow as tf

    from fmnist.export.convert_tflite import _convert, _converter, with_metadata

    converter = _converter(job.model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    job.target.write_bytes(with_metadata(_convert(converter), job.metadata))


@pytest.mark.slow
def test_one_registry_entry_is_all_export_runtime_and_bench_need(tiny_run, real_data, tmp_path, monkeypatch):
    from fmnist.bench import measure, suite, targets
    from fmnist.export.exporter import export
    from fmnist.runtime import Classifier

    fp16 = Format(
        name="tflite-fp16", file="model.fp16.tflite", family="tflite", precision="float16",
        converter=f"{__name__}:to_tflite_fp16", how="convert with float16 weights",
        limits=Limits(min_agreement=0.99, max_logit_delta=0.05), preference=5,
    )  # fmt: skip
    monkeypatch.setitem(FORMATS, fp16.name, fp16)
    run_dir, _ = tiny_run
    manifest = export(run_dir / "model.keras", ["tflite-fp16,tflite"], tmp_path)
    entry = manifest["artifacts"]["tflite-fp16"]
    assert entry["precision"] == "float16" and entry["limits"] == {"min_agreement": 0.99, "max_logit_delta": 0.05}
    assert entry["verified"]["agreement"] >= 0.99
    assert entry["bytes"] < 0.6 * manifest["artifacts"]["tflite"]["bytes"]

    classifier = Classifier.load(tmp_path / fp16.file)
    assert classifier.format is fp16 and classifier.precision == "float16"
    (group,) = targets.resolve([tmp_path])
    assert list(group.artifacts) == ["tflite", "tflite-fp16"]
    settings = suite.Settings(
        threads=(1,), batches=(1,), budget=measure.Budget(20, 2, 1.0), cold_starts=0, keras=False, images=200
    )
    report = suite.run([group], real_data.x_test[..., None], real_data.y_test, settings)
    row = next(r for r in report["rows"] if r["format"] == "tflite-fp16")
    assert row["precision"] == "float16" and row["agreement"] >= 0.99


def test_a_format_is_got_by_name_or_refused_with_the_choices():
    assert formats.get("onnx-int8") is FORMATS["onnx-int8"]
    with pytest.raises(FmnistError) as refused:
        formats.get("onyx")
    assert str(refused.value) == "unknown format 'onyx'; choose from onnx, onnx-int8, tflite, tflite-int8, tflm, c"
