"""fmnist.folders: the manifest and golden records read back what was written, older manifests
included, and the newest run and a finished run are found as the commands expect."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from fmnist import folders
from fmnist.errors import FmnistError


def test_the_shipped_manifest_as_an_older_fmnist_wrote_it_reads_and_writes_back_unchanged(tmp_path):
    shutil.copytree(folders.SHIPPED, tmp_path / "copy")
    written = json.loads((tmp_path / "copy" / folders.MANIFEST).read_text())
    for record in written["artifacts"].values():  # before "format" was called "family"
        record["format"] = record.pop("family")
    (tmp_path / "copy" / folders.MANIFEST).write_text(json.dumps(written))
    manifest = folders.read_manifest(tmp_path / "copy")
    assert list(manifest.entries) == list(written["artifacts"])
    assert manifest.source == written["source"] and manifest.header["command"] == written["command"]
    entry = manifest.entries["tflite-int8"]
    assert (entry.format, entry.file, entry.family, entry.precision) == (
        "tflite-int8",
        "model.int8.tflite",
        "tflite",
        "int8",
    )
    assert entry.bytes == (tmp_path / "copy" / entry.file).stat().st_size
    assert entry.extra == {"calibration": written["artifacts"]["tflite-int8"]["calibration"]}
    assert set(manifest.intact()) == set(written["artifacts"])
    folders.write_manifest(manifest)
    again = json.loads((tmp_path / "copy" / folders.MANIFEST).read_text())
    for name, record in written["artifacts"].items():
        assert again["artifacts"][name] == {
            **{k: v for k, v in record.items() if k != "format"},
            "family": record["format"],
        }
    assert {k: v for k, v in again.items() if k != "artifacts"} == {
        k: v for k, v in written.items() if k != "artifacts"
    }
    assert folders.read_manifest(tmp_path / "copy") == manifest

    (tmp_path / "copy" / "model.onnx").write_bytes(b"changed")
    assert "onnx" not in folders.read_manifest(tmp_path / "copy").intact()
    (tmp_path / "copy" / "model.int8.onnx").unlink()
    assert "onnx-int8" not in folders.read_manifest(tmp_path / "copy").intact()


@pytest.mark.parametrize(
    "text, reason",
    [
        (None, "no manifest.json here; run `fmnist export` first"),
        ("{ not json", "not an fmnist manifest (JSONDecodeError: "),
        ('{"artifacts": []}', "not an fmnist manifest (AttributeError: "),
        ('{"artifacts": {"onnx": {"bytes": 1}}}', "not an fmnist manifest (KeyError: 'file')"),
    ],
)
def test_a_manifest_that_cannot_be_read_is_refused_with_the_reason(tmp_path, text, reason):
    if text is not None:
        (tmp_path / folders.MANIFEST).write_text(text)
    with pytest.raises(FmnistError) as refused:
        folders.read_manifest(tmp_path)
    where = tmp_path if text is None else tmp_path / folders.MANIFEST
    assert str(refused.value).startswith(f"{where}: {reason}")
    assert folders.manifest_or_none(tmp_path) is None


def test_golden_values_read_back_what_was_written(tmp_path):
    golden = folders.read_golden(folders.SHIPPED)
    assert sorted(golden.artifacts) == ["c", "onnx", "onnx-int8", "tflite-int8", "tflm"]
    assert golden.images.shape == (30, 28, 28, 1) and len(golden.labels) == len(golden.indices) == 30
    folders.write_golden(tmp_path, golden)
    again = folders.read_golden(tmp_path)
    for name, values in golden.artifacts.items():
        np.testing.assert_array_equal(again.artifacts[name].logits, values.logits)
        assert (again.artifacts[name].tolerance, again.artifacts[name].file) == (values.tolerance, values.file)
        assert again.artifacts[name].sha256 == values.sha256
    np.testing.assert_array_equal(again.images, golden.images)
    np.testing.assert_array_equal(again.indices, golden.indices)
    with np.load(tmp_path / folders.GOLDEN, allow_pickle=False) as npz:
        assert npz["onnx.tolerance"].dtype == np.float32 and npz["onnx.logits"].dtype == np.float32


def test_golden_values_that_cannot_be_read_are_refused(tmp_path):
    with pytest.raises(FmnistError, match=r"no golden.npz here; export again with this fmnist to make one$"):
        folders.read_golden(tmp_path)
    (tmp_path / folders.GOLDEN).write_bytes(b"not a zip")
    with pytest.raises(FmnistError, match=r"golden.npz: not readable golden vectors \("):
        folders.read_golden(tmp_path)


def test_the_newest_export_is_the_last_manifest_written(tmp_path):
    assert folders.newest_export(tmp_path) is None
    for name, when in [("a", 300), ("b", 100), ("c", 200)]:
        (tmp_path / name / folders.EXPORT).mkdir(parents=True)
        (tmp_path / name / folders.EXPORT / folders.MANIFEST).write_text("{}")
        os.utime(tmp_path / name / folders.EXPORT / folders.MANIFEST, (when, when))
    (tmp_path / "d" / folders.EXPORT).mkdir(parents=True)  # no manifest: not an export
    assert folders.newest_export(tmp_path) == tmp_path / "a" / folders.EXPORT


def test_a_finished_run_has_its_model_and_the_option_that_named_it_is_said(tmp_path):
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / folders.MODEL).write_bytes(b"m")
    assert folders.run_model(tmp_path / "done") == tmp_path / "done" / "model.keras"
    with pytest.raises(FmnistError) as refused:
        folders.run_model(tmp_path, "--teacher")
    assert str(refused.value) == f"--teacher {tmp_path} has no model.keras; is it a finished `fmnist train` run?"
    (tmp_path / folders.METRICS).write_text('{"arch": "edge"}')
    assert folders.run_metrics(tmp_path) == {"arch": "edge"}
    (tmp_path / folders.METRICS).write_text("{")
    assert folders.run_metrics(tmp_path) == {} == folders.run_metrics(tmp_path / "nowhere")


def test_a_run_not_exported_yet_is_told_how_to_export_it(tmp_path):
    (tmp_path / folders.MODEL).write_bytes(b"m")
    with pytest.raises(FmnistError) as refused:
        folders.locate(tmp_path)
    assert str(refused.value) == f"{tmp_path}: a trained run not exported yet; run `fmnist export {tmp_path}` first"
    (tmp_path / folders.EXPORT).mkdir()
    with pytest.raises(FmnistError, match=r"a trained run not exported yet"):
        folders.locate(tmp_path)


def test_the_keras_source_is_the_runs_model_or_the_one_the_manifest_names(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folders.SHIPPED, elsewhere)
    assert folders.locate(elsewhere).keras is None  # the shipped manifest's source is not on this machine
    named = tmp_path / "trained" / folders.MODEL
    named.parent.mkdir()
    named.write_bytes(b"m")
    legacy, other = tmp_path / "model.h5", tmp_path / "model.onnx"
    for source, found in [(named, named), (tmp_path / "trained", None), (legacy, legacy), (other, None)]:
        legacy.write_bytes(b"m")
        other.write_bytes(b"m")
        manifest = json.loads((elsewhere / folders.MANIFEST).read_text())
        manifest["source"]["path"] = str(source)
        (elsewhere / folders.MANIFEST).write_text(json.dumps(manifest))
        assert folders.locate(elsewhere).keras == found
    (tmp_path / folders.MODEL).write_bytes(b"m")  # the run the export folder is in comes first
    assert folders.locate(elsewhere).keras == tmp_path / folders.MODEL


def test_where_no_runtime_is_installed_each_missing_one_is_named_once_in_the_folders_order(tmp_path, monkeypatch):
    from fmnist import formats

    for name in ("model.onnx", "model.int8.onnx", "model.int8.tflite"):
        shutil.copy(folders.SHIPPED / name, tmp_path)
    monkeypatch.setattr(formats, "installed", lambda family: False)
    with pytest.raises(FmnistError) as caught:
        folders.locate(tmp_path).runnable()
    assert str(caught.value) == (
        f"{tmp_path}: no runtime installed for its models; "
        "pip install 'fmnist[onnx]' (onnxruntime) or pip install 'fmnist[tflite]' (LiteRT)"
    )


def test_the_shipped_model_is_located_with_its_manifest_and_a_format_name_chooses_one_artifact():
    whole = folders.locate(None)
    assert whole.folder == folders.SHIPPED and not whole.chosen
    assert (
        list(whole.files) == ["onnx", "onnx-int8", "tflite-int8", "tflm", "c"]
        and whole.manifest.folder == folders.SHIPPED
    )
    one = folders.locate("onnx-int8")
    assert one.chosen and one.files == {"onnx-int8": folders.SHIPPED / "model.int8.onnx"} and one.manifest
    assert one.runnable() == folders.SHIPPED / "model.int8.onnx"
    with pytest.raises(FmnistError) as caught:
        folders.locate("tflite")
    assert str(caught.value) == "the shipped model has no tflite artifact; it has onnx, onnx-int8, tflite-int8, tflm, c"


def test_a_file_is_located_with_the_manifest_beside_it():
    located = folders.locate(folders.SHIPPED / "model.onnx")
    assert located.chosen and located.files == {"onnx": folders.SHIPPED / "model.onnx"}
    assert located.manifest is not None and located.manifest.entries["onnx"].file == "model.onnx"


def test_a_manifest_entry_of_few_fields_reads_with_stated_defaults():
    old = folders.Entry.from_json("onnx", {"file": "model.onnx", "format": "onnx"})  # before "family"
    assert old == folders.Entry("onnx", "model.onnx", "onnx", "unknown", 0, "", {}, {}, None, {})
    bare = folders.Entry.from_json("x", {"file": "x.bin"})
    assert (bare.family, bare.precision, bare.bytes, bare.sha256) == ("", "unknown", 0, "")
    assert bare.verified == {} and bare.limits == {} and bare.extra == {}


def test_a_folder_whose_manifest_names_no_source_is_located_with_its_manifest(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(folders.SHIPPED, export)
    manifest = json.loads((export / folders.MANIFEST).read_text())
    manifest["source"].pop("path")
    (export / folders.MANIFEST).write_text(json.dumps(manifest))
    located = folders.locate(export)
    assert located.keras is None and located.chosen is False
    assert located.manifest == folders.read_manifest(export)


def test_a_run_folder_with_an_empty_export_folder_says_where_it_looked(tmp_path):
    (tmp_path / folders.EXPORT).mkdir()
    with pytest.raises(FmnistError, match=f"^{tmp_path}: no model file here or in {tmp_path / folders.EXPORT}; "):
        folders.locate(tmp_path)
