"""Export of the tiny trained model: every format, its contract, the verification limits, the manifest, atomicity."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import run_fmnist

pytestmark = pytest.mark.slow


def test_every_format_is_published_with_a_matching_manifest(exported):
    from fmnist.files import sha256_file

    out, manifest = exported
    assert sorted(p.name for p in out.iterdir()) == [
        "golden.npz",
        "manifest.json",
        "model.int8.onnx",
        "model.int8.tflite",
        "model.onnx",
        "model.tflite",
    ]
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert on_disk["class_names"][0] == "T-shirt/top" and len(on_disk["class_names"]) == 10
    for entry in on_disk["artifacts"].values():
        path = out / entry["file"]
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
        assert set(entry["verified"]) >= {"accuracy", "delta_accuracy", "agreement", "per_class_delta"}
    assert {"tensorflow", "tf2onnx", "onnxruntime", "ai-edge-litert"} <= set(on_disk["tools"])
    assert on_disk["source"]["sha256"] and 0 < on_disk["source"]["test_accuracy"] <= 1


@pytest.mark.parametrize("name", ["model.onnx", "model.int8.onnx", "model.tflite", "model.int8.tflite"])
def test_each_artifact_obeys_the_contract_in_its_runtime(exported, real_data, name):
    from fmnist.runtime.backends import open_backend

    out, manifest = exported
    backend = open_backend(out / name)
    assert backend.metadata["class_names"] == manifest["class_names"]
    assert backend.metadata["source_sha256"] == manifest["source"]["sha256"]
    for batch in (1, 7):  # dynamic batch
        logits = backend(real_data.x_test[:batch, ..., None])
        assert logits.shape == (batch, 10) and logits.dtype == np.float32


def test_onnx_files_check_and_load_in_old_runtimes(exported):
    import onnx

    out, _ = exported
    for name in ("model.onnx", "model.int8.onnx"):
        model = onnx.load(str(out / name))
        onnx.checker.check_model(model, full_check=True)
        assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 13
        assert model.ir_version == 7  # what onnxruntime ≥ 1.6 reads
        assert json.loads({p.key: p.value for p in model.metadata_props}["fmnist"])["contract"] == 1
        (inp,) = model.graph.input
        assert inp.name == "pixels" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
        assert [o.name for o in model.graph.output] == ["logits"]


def test_int8_tflite_is_integer_only(exported):
    from ai_edge_litert import schema_py_generated as schema

    out, _ = exported
    model = schema.Model.GetRootAs((out / "model.int8.tflite").read_bytes(), 0)
    graph = model.Subgraphs(0)
    names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    types = {names[graph.Tensors(i).Type()] for i in range(graph.TensorsLength())}
    assert "FLOAT32" not in types and "FLOAT16" not in types, types
    builtin = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = {
        builtin[model.OperatorCodes(graph.Operators(i).OpcodeIndex()).BuiltinCode()]
        for i in range(graph.OperatorsLength())
    }
    assert not ops & {"DEQUANTIZE", "CAST"}, ops
    (inp,) = [graph.Tensors(graph.Inputs(i)) for i in range(graph.InputsLength())]
    assert names[inp.Type()] == "UINT8"
    assert inp.Quantization().Scale(0) == pytest.approx(1.0) and inp.Quantization().ZeroPoint(0) == 0


def broken_copy(path, factor, tmp_path):
    """The ONNX model with every weight tensor scaled by `factor`."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32 and values.size > 100:
            init.CopyFrom(numpy_helper.from_array(values * np.float32(factor), init.name))
    broken = tmp_path / f"broken-{factor}.onnx"
    onnx.save(model, str(broken))
    return broken


def test_limits_fire_on_a_broken_artifact(exported, real_data, tmp_path):
    from fmnist import formats
    from fmnist.errors import VerificationError
    from fmnist.export.validate import run_artifact, verify

    out, _ = exported
    pixels, y = real_data.x_test[..., None], real_data.y_test
    reference = run_artifact(out / "model.onnx", pixels)
    float_limits, int8_limits = formats.get("onnx").limits, formats.get("onnx-int8").limits

    def verify_file(path, limits, reference):
        return verify(path, run_artifact(path, pixels), limits, reference, y)

    verify_file(out / "model.onnx", float_limits, reference)  # the intact one passes
    with pytest.raises(VerificationError, match=r"logits differ .* above the 0.001 limit \(--max-logit-delta\)"):
        verify_file(broken_copy(out / "model.onnx", 1.0005, tmp_path), float_limits, reference)
    with pytest.raises(VerificationError, match=r"agreement .* is 9.*%, below the 99.9% limit \(--min-agreement\)"):
        verify_file(broken_copy(out / "model.onnx", 1.05, tmp_path), float_limits, reference)
    always_right = np.eye(10, dtype=np.float32)[y]  # a reference at 100 %
    with pytest.raises(VerificationError, match="accuracy .* points below .*100.00%.*--max-accuracy-drop"):
        verify_file(out / "model.int8.onnx", int8_limits, always_right)
    loose = formats.Limits(max_accuracy_drop=1.0)  # a limit given on the command line replaces the format's
    verify_file(out / "model.int8.onnx", int8_limits.overridden(loose), always_right)


def test_failed_export_leaves_previous_artifacts_intact(exported, tiny_run, tmp_path, monkeypatch):
    from fmnist.export import convert_tflite
    from fmnist.export.exporter import export

    out, _ = exported
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}

    def explode(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(convert_tflite, "to_tflite", explode)
    run_dir, _ = tiny_run
    with pytest.raises(RuntimeError, match="converter crashed"):  # after onnx was built and verified
        export(run_dir / "model.keras", ["onnx", "tflite"], copy)
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before  # no temp files either


def test_partial_export_keeps_the_other_entries(exported, tiny_run, tmp_path):
    from fmnist.export.exporter import export

    out, manifest = exported
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    run_dir, _ = tiny_run
    again = export(run_dir / "model.keras", ["tflite"], copy)
    assert set(again["artifacts"]) == set(manifest["artifacts"])
    assert again["artifacts"]["onnx"] == manifest["artifacts"]["onnx"]
    with np.load(out / "golden.npz") as before, np.load(copy / "golden.npz") as after:
        assert sorted(after.files) == sorted(before.files)  # the golden values of the others are kept
        np.testing.assert_array_equal(after["onnx.logits"], before["onnx.logits"])


def test_a_file_that_is_not_an_artifact_there_is_never_replaced(tiny_run, tmp_path):
    from fmnist.errors import FmnistError
    from fmnist.export.exporter import export

    (tmp_path / "model.onnx").write_bytes(b"someone else's model")
    run_dir, _ = tiny_run
    with pytest.raises(FmnistError, match=r"model.onnx exists and is not an artifact of an fmnist export there"):
        export(run_dir / "model.keras", ["onnx"], tmp_path)
    assert (tmp_path / "model.onnx").read_bytes() == b"someone else's model"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing", "no such file or folder"),
        (lambda d: d, "has no model.keras"),
        (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "not a Keras model"),
        (
            lambda d: (d / "junk.keras").write_bytes(b"PK\x03\x04junk") and d / "junk.keras",
            "not a loadable Keras model",
        ),
    ],
)
def test_bad_model_argument_is_one_line(tmp_path, make, message):
    result = run_fmnist("export", str(make(tmp_path)), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_a_model_that_is_not_a_fashion_mnist_classifier_is_refused(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    model.save(tmp_path / "other.keras")
    result = run_fmnist("export", str(tmp_path / "other.keras"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'other.keras'}: takes float32 [N, 32, 32, 3] and returns [N, 5]; "
        "an fmnist model takes uint8 [N, 28, 28, 1] pixels and returns [N, 10] logits"
    )


def test_export_command_prints_the_table(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    result = run_fmnist("export", str(run_dir), "--format", "onnx,tflite-int8", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onnx" in result.stdout and "tflite-int8" in result.stdout and "KiB" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "golden.npz",
        "manifest.json",
        "model.int8.tflite",
        "model.onnx",
    ]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["command"].startswith("fmnist export ")


def test_unknown_format_lists_the_choices(tiny_run, tmp_path):
    result = run_fmnist("export", str(tiny_run[0]), "--format", "coreml", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown format 'coreml'; choose from onnx, onnx-int8, tflite, tflite-int8 or all"
    ]


def test_golden_vectors_pass_here_and_fail_naming_the_image_when_tampered(exported, tmp_path):
    out, _ = exported
    with np.load(out / "golden.npz", allow_pickle=False) as golden:
        arrays = dict(golden)
    assert arrays["images"].shape == (30, 28, 28, 1) and np.bincount(arrays["labels"]).tolist() == [3] * 10
    assert {k.split(".")[0] for k in arrays if k.endswith(".logits")} == {"onnx", "onnx-int8", "tflite", "tflite-int8"}
    assert arrays["tflite.tolerance"] == np.float32(1e-3) and 0 < arrays["tflite-int8.tolerance"] < 1
    result = run_fmnist("check", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == f"check passed: 4 artifacts in {out} compute here what their export verified"
    )

    copy = tmp_path / "tampered"
    shutil.copytree(out, copy)
    logits = arrays["tflite-int8.logits"]
    first = int(np.flatnonzero(logits.argmax(1) == 0)[0])  # an image the model calls a T-shirt
    logits[first, 1] = logits[first].max() + 1  # the golden file now says: Trouser
    arrays["onnx.logits"] = arrays["onnx.logits"] + 2e-3  # just past the float tolerance
    np.savez(copy / "golden.npz", **arrays)
    result = run_fmnist("check", str(copy))
    assert result.returncode == 1
    index = int(arrays["indices"][first])
    assert (
        f"FAIL tflite-int8 (ai-edge-litert): 1 labels changed: test image {index} (Trouser → T-shirt/top)"
        in result.stdout
    )
    assert "FAIL onnx (onnxruntime): every label the same; largest |Δ logit| 0.002" in result.stdout
    assert "ok onnx-int8" in result.stdout and result.stderr.strip() == f"check failed: 2 of 4 artifacts in {copy}"
