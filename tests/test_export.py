"""Export of the tiny trained model: every format, its contract, the verification limits, the manifest, atomicity."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time

import numpy as np
import pytest
from conftest import run_fmnist

pytestmark = pytest.mark.slow


def test_every_format_is_published_with_a_matching_manifest(exported, tiny_run):
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
    assert on_disk["source"]["sha256"] == sha256_file(tiny_run[0] / "model.keras")
    assert on_disk["source"]["test_accuracy"] == pytest.approx(tiny_run[1]["test_accuracy"], abs=1e-4)  # as trained


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


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def converting_a_damaged_copy(monkeypatch):
    """Make every converter convert the model with all its weights scaled by a factor: an
    artifact wrong on purpose, still a valid file of its format. The factors were measured on
    the tiny model against itself: ×1.0002 keeps 99.98 % top-1 agreement but moves logits by up
    to 0.02; ×1.002 agrees on 99.81 %, ×1.05 on 96.3 %; ×0.97 loses about 1 accuracy point in
    int8, ×0.9 about 4.3."""
    import keras

    from fmnist.export import exporter

    real = exporter._converter

    def damage(factor):
        def converter(fmt, source=None):
            convert = real(fmt, source)

            def wrong(job):
                model = keras.models.clone_model(job.model)
                model.set_weights([w * factor for w in job.model.get_weights()])
                convert(dataclasses.replace(job, model=model))

            return wrong

        monkeypatch.setattr(exporter, "_converter", converter)

    return damage


def export_in_process(*args):
    from typer.testing import CliRunner

    from fmnist.cli import app

    return CliRunner().invoke(app, ["export", *map(str, args)])


@pytest.mark.parametrize(
    "fmt, factor, options, message",
    [
        ("onnx", 1.05, [], r"model.onnx: top-1 agreement with the Keras model is 9\d.\d\d%, below the 99.9% limit "
         r"\(--min-agreement\)"),
        ("tflite", 1.05, [], r"model.tflite: top-1 agreement .* below the 99.9% limit \(--min-agreement\)"),
        ("onnx", 1.0002, [], r"model.onnx: logits differ from the Keras model by up to 0.0\d+, above the 0.001 "
         r"limit \(--max-logit-delta\)"),
        ("tflite", 1.0002, [], r"model.tflite: logits differ .* above the 0.001 limit \(--max-logit-delta\)"),
        ("onnx-int8", 0.9, [], r"model.int8.onnx: accuracy .* is [3-6].\d\d points below the float model's .*"
         r"\(limit: 0.5, --max-accuracy-drop\); try .*"),
        ("tflite-int8", 0.9, [], r"model.int8.tflite: accuracy .* \(limit: 0.5, --max-accuracy-drop\); try .*"),
        # limits tightened on the command line
        ("tflite", 1.002, ["--max-logit-delta", "1", "--min-agreement", "1"],
         r"model.tflite: top-1 agreement .* is 99.\d\d%, below the 100.0% limit \(--min-agreement\)"),
        ("tflite-int8", 0.97, ["--max-accuracy-drop", "0.001"],
         r"model.int8.tflite: accuracy .* \(limit: 0.1, --max-accuracy-drop\); try .*"),
    ],
)  # fmt: skip
def test_an_artifact_past_a_limit_fails_the_export_and_publishes_nothing(
    exported, tiny_run, tmp_path, converting_a_damaged_copy, fmt, factor, options, message
):
    earlier = tmp_path / "export"
    shutil.copytree(exported[0], earlier)
    before = snapshot(earlier)
    converting_a_damaged_copy(factor)
    result = export_in_process(tiny_run[0], "--format", fmt, "--out", earlier, *options)
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]  # after the stages it went through
    assert re.fullmatch(f"error: {message}", line), line
    assert snapshot(earlier) == before  # nothing published, nothing left behind


def test_limits_loosened_on_the_command_line_publish_what_they_allow(
    exported, tiny_run, tmp_path, converting_a_damaged_copy
):
    converting_a_damaged_copy(0.9)  # 88.8 % agreement, logits off by up to 13, 4.5 points lost
    loose = ["--min-agreement", "0.5", "--max-logit-delta", "100", "--max-accuracy-drop", "0.2"]
    result = export_in_process(tiny_run[0], "--format", "tflite,onnx-int8", "--out", tmp_path, *loose)
    assert result.exit_code == 0, result.output
    artifacts = json.loads((tmp_path / "manifest.json").read_text())["artifacts"]
    assert artifacts["tflite"]["limits"] == {"min_agreement": 0.5, "max_logit_delta": 100}
    assert artifacts["onnx-int8"]["limits"] == {"max_accuracy_drop": 0.2}
    assert 0.85 < artifacts["tflite"]["verified"]["agreement"] < 0.92
    assert -0.06 < artifacts["onnx-int8"]["verified"]["delta_accuracy"] < -0.03


def test_a_limit_no_artifact_can_meet_fails_the_real_command(exported, tiny_run, tmp_path):
    earlier = tmp_path / "export"
    shutil.copytree(exported[0], earlier)
    before = snapshot(earlier)
    result = run_fmnist(
        "export", str(tiny_run[0]), "--format", "tflite", "--max-logit-delta", "0", "--out", str(earlier)
    )
    assert result.returncode == 2
    assert re.fullmatch(
        r"error: model.tflite: logits differ from the Keras model by up to .*, above the 0 limit \(--max-logit-delta\)",
        result.stderr.strip().splitlines()[-1],
    )
    assert snapshot(earlier) == before


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
        (lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt", "not a model export takes"),
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
        "error: unknown format 'coreml'; choose from onnx, onnx-int8, tflite, tflite-int8, tflm, c or all"
    ]


def test_golden_vectors_pass_here_and_fail_naming_the_image_when_tampered(exported, tmp_path):
    out, _ = exported
    with np.load(out / "golden.npz", allow_pickle=False) as golden:
        arrays = dict(golden)
    assert arrays["images"].shape == (30, 28, 28, 1) and np.bincount(arrays["labels"]).tolist() == [3] * 10
    assert {k.split(".")[0] for k in arrays if k.endswith(".logits")} == {"onnx", "onnx-int8", "tflite", "tflite-int8"}
    from ai_edge_litert.interpreter import Interpreter

    (output,) = Interpreter(str(out / "model.int8.tflite")).get_output_details()
    assert arrays["tflite.tolerance"] == np.float32(1e-3)
    assert arrays["tflite-int8.tolerance"] == np.float32(output["quantization"][0])  # one step of the int8 logits
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


@pytest.mark.parametrize("steps, passes", [(1, True), (1.5, False)])
def test_check_allows_an_int8_logit_one_output_step_away_and_no_more(exported, tmp_path, steps, passes):
    """Another machine's int8 kernels may round one output step the other way; more is a fault."""
    copy = tmp_path / "export"
    shutil.copytree(exported[0], copy)
    with np.load(copy / "golden.npz", allow_pickle=False) as golden:
        arrays = dict(golden)
    for name in ("onnx-int8", "tflite-int8"):
        logits, step = arrays[f"{name}.logits"], arrays[f"{name}.tolerance"]
        image = int(np.argmax(np.sort(logits, axis=1)[:, -1] - np.sort(logits, axis=1)[:, -2]))  # the surest answer
        logits[image, logits[image].argmax()] += np.float32(steps) * step  # its label stays
    np.savez(copy / "golden.npz", **arrays)
    result = run_fmnist("check", str(copy))
    assert result.returncode == (0 if passes else 1), result.stdout + result.stderr
    if not passes:
        lines = result.stdout.splitlines()
        for name in ("onnx-int8", "tflite-int8"):
            (line,) = [line for line in lines if line.startswith(f"FAIL {name} ")]
            assert "every label the same; largest |Δ logit|" in line
        assert result.stderr.strip() == f"check failed: 2 of 4 artifacts in {copy}"


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_the_calibration_method_given_sets_the_int8_ranges(exported, tiny_run, tmp_path, method):
    result = run_fmnist(
        "export", str(tiny_run[0]), "--format", "onnx-int8", "--calibration-method", method, "--out", str(tmp_path),
        "--max-accuracy-drop", "0.05",  # another method may lose more on a two-epoch model; that is not tested here
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    entry = json.loads((tmp_path / "manifest.json").read_text())["artifacts"]["onnx-int8"]
    assert entry["calibration"] == {"images": 512, "method": method, "seed": 0}
    with np.load(tmp_path / "golden.npz") as mine, np.load(exported[0] / "golden.npz") as minmax:
        assert mine["onnx-int8.tolerance"] != minmax["onnx-int8.tolerance"]  # the logits' range is another


def test_export_with_no_model_takes_the_newest_run_and_the_opset_given(tiny_run, tmp_path):
    import onnx

    runs = tmp_path / "runs"
    for name in ("older", "newer"):
        shutil.copytree(tiny_run[0], runs / name)
        time.sleep(0.01)  # copytree keeps the model's time: mark the order by writing it again
        (runs / name / "model.keras").write_bytes((tiny_run[0] / "model.keras").read_bytes())
    result = run_fmnist("export", "--runs-dir", str(runs), "--format", "onnx", "--opset", "17")
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (runs / "older" / "export").exists()
    manifest = json.loads((runs / "newer" / "export" / "manifest.json").read_text())
    assert (
        manifest["source"]["path"] == str(runs / "newer" / "model.keras")
        and manifest["artifacts"]["onnx"]["opset"] == 17
    )
    model = onnx.load(str(runs / "newer" / "export" / "model.onnx"))
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == 17
