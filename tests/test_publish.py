"""What `fmnist export` publishes, refuses and keeps, without training or converting: the Keras model is
stood in for by the shipped float ONNX model and each converter copies the shipped artifact of its format,
so every artifact is a real file verified by its real runtime on the 10,000 test images."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fmnist import contract, folders, formats
from fmnist.adapters import Adapters
from fmnist.errors import FmnistError, VerificationError
from fmnist.export import exporter, golden, sources
from fmnist.export.options import CALIBRATION_SEED, ExportOptions
from fmnist.files import sha256_file
from fmnist.formats import Limits
from fmnist.runtime.backends import open_backend

FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx", "tflite-int8": "model.int8.tflite"}


class StandIn:
    """The Keras model's place in an export: the shipped float ONNX model's logits."""

    def __init__(self, path):
        self.backend = open_backend(path)
        self.verbose: list = []  # what each predict call was asked to print

    def predict(self, pixels, batch_size, verbose):
        self.verbose.append(verbose)
        return np.concatenate([self.backend(pixels[i : i + batch_size]) for i in range(0, len(pixels), batch_size)])


def stand_in_source(path, stand_in=None):
    """An fmnist run's model at `path`, stood in for by the shipped float ONNX model."""
    stand_in = stand_in or StandIn(folders.SHIPPED / "model.onnx")
    return sources.Source("fmnist", path, sha256_file(path), stand_in, Adapters(), stand_in)


@pytest.fixture
def shipped_export(monkeypatch, real_data, tmp_path):
    """`export(model, formats, out)` with the stand-ins; `jobs` lists what each converter was given."""
    model = tmp_path / "run" / "model.keras"
    model.parent.mkdir()
    model.write_bytes(b"a model")
    (model.parent / "metrics.json").write_text(json.dumps({"seed": 7, "arch": "edge", "history": [1]}))
    jobs = []
    copied = dict(FILES)

    def converter(fmt, source=None):
        def convert(job):
            jobs.append((fmt.name, job))
            shutil.copyfile(folders.SHIPPED / copied[fmt.name], job.target)

        return convert

    loaded = []  # (the path export asked for, the stand-in given)

    def open_source(path, scale=None):
        loaded.append((path, StandIn(folders.SHIPPED / "model.onnx")))
        return stand_in_source(path, loaded[-1][1])

    monkeypatch.setattr(exporter, "open_source", open_source)
    monkeypatch.setattr(exporter, "_converter", converter)

    def run(wanted, out, options=ExportOptions(), **kwargs):
        return exporter.export(model, wanted, out, options, **kwargs)

    run.model, run.jobs, run.copied, run.loaded = model, jobs, copied, loaded
    return run


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_an_export_publishes_each_artifact_with_what_its_runtime_measured(shipped_export, real_data, tmp_path):
    out = tmp_path / "out"
    stages = []
    manifest = shipped_export(["onnx", "tflite-int8"], out, progress=stages.append, command="fmnist export")
    assert sorted(p.name for p in out.iterdir()) == ["golden.npz", "manifest.json", "model.int8.tflite", "model.onnx"]
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for name in ("onnx", "tflite-int8"):
        assert (out / FILES[name]).read_bytes() == (folders.SHIPPED / FILES[name]).read_bytes()

    reference = StandIn(folders.SHIPPED / "model.onnx").predict(real_data.x_test[..., None], 1000, 0)
    float_accuracy = float((reference.argmax(1) == real_data.y_test).mean())
    int8 = open_backend(out / "model.int8.tflite")(real_data.x_test[..., None])
    assert manifest["source"] == {
        "kind": "fmnist",
        "path": str(shipped_export.model),
        "sha256": sha256_file(shipped_export.model),
        "test_accuracy": float_accuracy,
        "training": {"seed": 7, "arch": "edge"},
    }
    assert manifest["command"] == "fmnist export"
    assert manifest["golden"] == "golden.npz"
    assert manifest["contract"] == contract.VERSION
    assert list(manifest["artifacts"]) == ["onnx", "tflite-int8"]  # in the registry's order

    onnx, tflite = manifest["artifacts"]["onnx"], manifest["artifacts"]["tflite-int8"]
    assert onnx["verified"]["agreement"] == 1.0 and onnx["verified"]["max_abs_logit_delta"] == 0.0
    assert onnx["verified"]["accuracy"] == float_accuracy
    assert onnx["limits"] == {"min_agreement": 0.999, "max_logit_delta": 1e-3}
    assert onnx["opset"] == 13 and "calibration" not in onnx
    assert tflite["verified"]["accuracy"] == float((int8.argmax(1) == real_data.y_test).mean())
    assert tflite["verified"]["agreement"] == float((int8.argmax(1) == reference.argmax(1)).mean())
    assert tflite["limits"] == {"max_accuracy_drop": 0.005}
    assert tflite["calibration"] == {"images": 512, "method": "minmax", "seed": CALIBRATION_SEED}
    assert "opset" not in tflite
    for name, entry in manifest["artifacts"].items():
        fmt = formats.FORMATS[name]
        assert entry["file"] == fmt.file and entry["family"] == fmt.family and entry["precision"] == fmt.precision
        assert entry["bytes"] == (out / fmt.file).stat().st_size
        assert entry["sha256"] == sha256_file(out / fmt.file)
        assert entry["export_seconds"] >= 0

    assert stages == [
        "reference: Keras float model on the test set",
        "onnx: convert with tf2onnx",
        "onnx: verify on 10,000 test images",
        "tflite-int8: calibrate and convert to full-integer (512 calibration images)",
        "tflite-int8: verify on 10,000 test images",
    ]
    chosen = golden.indices(real_data.y_test)
    with np.load(out / "golden.npz") as g:
        np.testing.assert_array_equal(g["indices"], chosen)
        np.testing.assert_array_equal(g["labels"], real_data.y_test[chosen])
        np.testing.assert_array_equal(g["images"], real_data.x_test[chosen][..., None])
        np.testing.assert_array_equal(g["tflite-int8.logits"], int8[chosen])
        np.testing.assert_array_equal(g["onnx.logits"], reference[chosen])
        assert str(g["onnx.sha256"]) == onnx["sha256"]


def test_each_converter_is_given_its_model_target_metadata_calibration_and_source(shipped_export, real_data, tmp_path):
    out = tmp_path / "out"
    options = ExportOptions(calibration_size=60)
    manifest = shipped_export(["onnx-int8"], out, options)
    assert [name for name, _ in shipped_export.jobs] == ["onnx", "onnx-int8"]  # its source first
    assert sorted(p.name for p in out.iterdir()) == ["golden.npz", "manifest.json", "model.int8.onnx"]
    assert list(manifest["artifacts"]) == ["onnx-int8"]  # the source was made, not published
    (_, onnx), (_, int8) = shipped_export.jobs
    sha = manifest["source"]["sha256"]
    assert isinstance(onnx.model, StandIn) and onnx.model is int8.model
    assert onnx.target.name == "model.onnx" and onnx.target.parent.name.startswith(".export-")
    assert onnx.target.parent.parent == out
    assert onnx.metadata == contract.metadata(sha, "float32") and int8.metadata == contract.metadata(sha, "int8")
    assert onnx.calibration is None and onnx.source is None and onnx.options is options
    assert int8.source == onnx.target and int8.target == onnx.target.parent / "model.int8.onnx"
    assert int8.calibration.shape == (60, 28, 28, 1) and int8.calibration.dtype == np.uint8
    np.testing.assert_array_equal(int8.calibration, exporter.calibration_images(real_data, 60))
    assert (
        np.bincount(real_data.y_train[exporter.data.stratified_subset(real_data.y_train, 60, 0)]).tolist() == [6] * 10
    )
    assert manifest["artifacts"]["onnx-int8"]["calibration"] == {"images": 60, "method": "minmax", "seed": 0}


def test_an_artifact_past_its_limit_publishes_nothing_and_leaves_the_earlier_export(shipped_export, tmp_path):
    out = tmp_path / "out"
    shipped_export(["onnx", "tflite-int8"], out)
    before = snapshot(out)
    shipped_export.copied["onnx"] = "model.int8.onnx"  # a float model that is not the Keras model
    with pytest.raises(VerificationError, match=r"^model.onnx: top-1 agreement with the Keras model is 9\d\.\d\d%"):
        shipped_export(["tflite-int8", "onnx"], out)
    assert snapshot(out) == before  # neither the failed artifact nor the good one, no staging folder


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(max_accuracy_drop=0.0), r"model.int8.tflite: accuracy .* \(limit: 0.0, --max-accuracy-drop\)"),
        (Limits(max_logit_delta=-1.0), r"model.onnx: logits differ .* above the -1 limit \(--max-logit-delta\)"),
    ],
)
def test_limits_given_replace_the_formats_own(shipped_export, tmp_path, limits, message):
    with pytest.raises(VerificationError, match=message):
        shipped_export(["onnx", "tflite-int8"], tmp_path / "out", ExportOptions(limits=limits))
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_a_later_export_keeps_the_intact_entries_of_the_same_model(shipped_export, tmp_path):
    out = tmp_path / "out"
    first = shipped_export(["onnx", "tflite-int8"], out)
    second = shipped_export(["onnx-int8"], out)
    assert list(second["artifacts"]) == ["onnx", "onnx-int8", "tflite-int8"]
    assert second["artifacts"]["onnx"] == first["artifacts"]["onnx"]
    with np.load(out / "golden.npz") as g:
        assert {k.split(".")[0] for k in g.files} == {"images", "labels", "indices", "onnx", "onnx-int8", "tflite-int8"}

    (out / "model.int8.tflite").write_bytes(b"changed by hand")  # no longer what the manifest lists
    third = shipped_export(["onnx"], out)
    assert list(third["artifacts"]) == ["onnx", "onnx-int8"]
    with np.load(out / "golden.npz") as g:
        assert not any(k.startswith("tflite-int8.") for k in g.files)

    (out / "model.int8.onnx").unlink()
    assert list(shipped_export(["onnx"], out)["artifacts"]) == ["onnx"]


def test_entries_of_another_model_or_an_unreadable_manifest_are_not_kept(shipped_export, tmp_path):
    out = tmp_path / "out"
    shipped_export(["onnx", "tflite-int8"], out)
    sha = json.loads((out / "manifest.json").read_text())["source"]["sha256"]
    assert set(exporter._previous_entries(folders.manifest_or_none(out), sha)) == {"onnx", "tflite-int8"}
    assert exporter._previous_entries(folders.manifest_or_none(out), "0" * 64) == {}
    assert exporter._previous_entries(folders.manifest_or_none(tmp_path / "nowhere"), sha) == {}
    (out / "manifest.json").write_text("{ not json")
    assert exporter._previous_entries(folders.manifest_or_none(out), sha) == {}
    (out / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    assert exporter._previous_entries(folders.manifest_or_none(out), sha) == {}

    again = tmp_path / "again"
    shipped_export(["onnx", "tflite-int8"], again)
    shipped_export.model.write_bytes(b"another model")
    assert list(shipped_export(["onnx"], again)["artifacts"]) == ["onnx"]  # not the int8 one of the first model


def test_leftovers_of_a_killed_export_are_cleared(shipped_export, tmp_path):
    out = tmp_path / "out"
    (out / ".export-abc123").mkdir(parents=True)
    (out / ".export-abc123" / "model.onnx").write_bytes(b"half")
    (out / ".manifest.x1.json").write_text("{")
    (out / "notes.txt").write_text("mine")
    shipped_export(["onnx"], out)
    assert sorted(p.name for p in out.iterdir()) == ["golden.npz", "manifest.json", "model.onnx", "notes.txt"]


def test_a_converter_that_crashes_publishes_nothing(shipped_export, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shipped_export(["onnx"], out)
    before = snapshot(out)
    shipped_export.copied["tflite-int8"] = "no such file"
    with pytest.raises(FileNotFoundError):
        shipped_export(["onnx", "tflite-int8"], out)
    assert snapshot(out) == before


@pytest.mark.parametrize("manifest", [None, "{ not json", '{"artifacts": []}', '{"artifacts": {"x": {"file": "a"}}}'])
def test_a_file_no_manifest_lists_is_never_replaced(shipped_export, tmp_path, manifest):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"someone else's model")
    if manifest is not None:
        (out / "manifest.json").write_text(manifest)
    with pytest.raises(FmnistError) as refused:
        shipped_export(["tflite-int8", "onnx"], out)
    assert str(refused.value) == (
        f"{out / 'model.onnx'} exists and is not an artifact of an fmnist export there; "
        "move it away or choose another --out"
    )
    assert (out / "model.onnx").read_bytes() == b"someone else's model"
    assert not (out / "model.int8.tflite").exists()


def test_a_file_its_manifest_lists_is_replaced(shipped_export, tmp_path):
    out = tmp_path / "out"
    shipped_export(["onnx"], out)
    (out / "model.onnx").write_bytes(b"edited")  # listed, so fmnist's own: replaced, not refused
    exporter._refuse_foreign_files(out, folders.read_manifest(out), [formats.FORMATS["onnx"]])
    shipped_export(["onnx"], out)
    assert (out / "model.onnx").read_bytes() == (folders.SHIPPED / "model.onnx").read_bytes()


def test_the_model_named_is_a_run_folder_a_keras_file_or_the_newest_run(tmp_path):
    runs = tmp_path / "runs"
    for name, age in [("old", 300), ("newest", 100), ("middle", 200)]:
        (runs / name).mkdir(parents=True)
        (runs / name / "model.keras").write_bytes(b"m")
        os.utime(runs / name / "model.keras", (0, 1_000_000 - age))
    (runs / "unfinished").mkdir()
    assert folders.trained_model(None, runs) == runs / "newest" / "model.keras"
    assert folders.trained_model(runs / "old") == runs / "old" / "model.keras"
    assert folders.trained_model(runs / "old" / "model.keras") == runs / "old" / "model.keras"

    (runs / "old" / "model.pt").write_bytes(b"m")
    cases = [
        (None, tmp_path / "empty", f"no trained model under {tmp_path / 'empty'}/; run `fmnist train` or name a model"),
        (runs / "unfinished", runs, f"{runs / 'unfinished'} has no model.keras; is it a finished `fmnist train` run?"),
        (tmp_path / "missing.keras", runs, f"{tmp_path / 'missing.keras'}: no such file or folder"),
        (
            runs / "old" / "model.pt",
            runs,
            f"{runs / 'old' / 'model.pt'}: not a model export takes (a .keras, .h5 or .onnx file, or a run folder)",
        ),
    ]
    for given, runs_dir, message in cases:
        with pytest.raises(FmnistError) as refused:
            folders.trained_model(given, runs_dir)
        assert str(refused.value) == message


def test_the_default_runs_folder_is_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "model.keras").write_bytes(b"m")
    assert folders.trained_model(None) == Path("runs/a/model.keras")


def test_an_export_reads_the_model_named_quietly_into_a_new_folder_past_leftovers(shipped_export, tmp_path):
    import time

    out = tmp_path / "new" / "nested" / "out"
    out.mkdir(parents=True)
    (out / ".export-leftover").write_text("not a staging folder: left as it is, and no obstacle")
    started = time.perf_counter()
    manifest = shipped_export(["onnx"], out)
    wall = time.perf_counter() - started
    ((path, model),) = shipped_export.loaded
    assert path == shipped_export.model and model.verbose == [0]  # Keras prints no progress bar
    assert 0 <= manifest["artifacts"]["onnx"]["export_seconds"] <= wall
    assert sorted(p.name for p in out.iterdir()) == [".export-leftover", "golden.npz", "manifest.json", "model.onnx"]
    shutil.rmtree(tmp_path / "new")
    shipped_export(["onnx"], out)  # the folder and its parents are made
    assert (out / "model.onnx").is_file()


def test_an_export_reads_the_dataset_it_is_given(shipped_export, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    with pytest.raises(FmnistError, match=f"^{empty} lacks "):
        shipped_export(["onnx"], tmp_path / "out", data_dir=empty)
    assert not (tmp_path / "out").exists()
