"""The microcontroller exports of the shipped int8 model (TFLite Micro sources and the generated C
engine), made by `fmnist export FOLDER --format tflm,c` in a copy of the shipped model's folder
and verified by their real runtimes on the 10,000 test images; what only a Keras model makes,
refused from a folder; and a model the C engine cannot run, refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import run_fmnist

from fmnist import folders
from fmnist.bench.mcu import board
from fmnist.errors import FmnistError
from fmnist.export import convert_c, convert_tflm
from fmnist.runtime import micro

SHIPPED_INT8 = folders.SHIPPED / "model.int8.tflite"
MICRO = {"tflm": ("model_data.cc", "model_data.h", "model_ops.h"), "c": ("fmnist_model.c", "fmnist_model.h")}
pytestmark = pytest.mark.skipif(micro.compiler() is None, reason="no C compiler")


def _without_micro(folder):
    """A copy of the shipped folder as it was before its microcontroller formats: their files and
    entries gone."""
    shutil.copytree(folders.SHIPPED, folder, ignore=shutil.ignore_patterns(*(f for fs in MICRO.values() for f in fs)))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if k not in MICRO}
    manifest.pop("later_commands", None)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


@pytest.fixture(scope="module")
def micro_export(real_data, tmp_path_factory):
    """The export folder, its manifest before and after `fmnist export FOLDER --format tflm,c`."""
    folder = tmp_path_factory.mktemp("micro") / "shipped"
    before = _without_micro(folder)
    result = run_fmnist("export", str(folder), "--format", "tflm,c")
    assert result.returncode == 0, result.stderr
    return folder, json.loads((folder / "manifest.json").read_text()), before


def test_an_export_folder_gains_both_in_place_and_keeps_what_it_had(micro_export):
    out, manifest, before = micro_export
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in folders.SHIPPED.iterdir())
    assert list(manifest["artifacts"]) == ["onnx", "onnx-int8", "tflite-int8", "tflm", "c"]
    assert {k: manifest["artifacts"][k] for k in before["artifacts"]} == before["artifacts"]
    assert manifest["source"] == before["source"] and manifest["command"] == before["command"]
    assert manifest["later_commands"] == [f"fmnist export {out} --format tflm,c"]
    assert manifest["artifacts"]["tflm"]["verified"]["reference"] == "onnx"  # the Keras model's stand-in
    assert manifest["artifacts"]["tflm"]["companions"] == ["model_data.h", "model_ops.h"]
    assert manifest["artifacts"]["c"]["companions"] == ["fmnist_model.h"]


def test_the_shipped_microcontroller_files_are_what_export_makes_of_the_shipped_model(micro_export):
    out, manifest, _ = micro_export
    for file in (f for files in MICRO.values() for f in files):
        assert (out / file).read_bytes() == (folders.SHIPPED / file).read_bytes(), file
    shipped = folders.read_manifest(folders.SHIPPED).entries
    for name in MICRO:
        assert manifest["artifacts"][name]["verified"] == shipped[name].verified


def test_an_export_folder_cannot_make_what_only_the_keras_model_makes(tmp_path):
    folder = tmp_path / "shipped"
    _without_micro(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = run_fmnist("export", str(folder), "--format", "onnx")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: onnx is made from the Keras model, which {folder} does not hold (an export folder can make "
        "onnx-int8, tflm, c); export it from the run folder or the .keras file"
    )
    (folder / "model.int8.tflite").unlink()
    del before["model.int8.tflite"]
    result = run_fmnist("export", str(folder), "--format", "c")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {folder} has no intact tflite-int8 artifact to make c from, and only the Keras model makes "
        "one; export from the run folder or the .keras file"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_the_tflm_array_is_the_int8_model_byte_for_byte_with_its_operators_and_arena(micro_export):
    out, manifest, _ = micro_export
    assert micro.model_bytes(out / "model_data.cc") == SHIPPED_INT8.read_bytes()
    assert "alignas(16) const unsigned char fmnist_model_data[] = {" in (out / "model_data.cc").read_text()
    ops = (out / "model_ops.h").read_text()
    assert "tflite::MicroMutableOpResolver<5>" in ops
    calls = [line.strip() for line in ops.splitlines() if "resolver.Add" in line]
    assert calls == [
        f"TF_LITE_ENSURE_STATUS(resolver.{name}());"
        for name in ("AddQuantize", "AddConv2D", "AddMaxPool2D", "AddReshape", "AddFullyConnected")
    ]
    entry = manifest["artifacts"]["tflm"]
    assert entry["arena_measured_bytes"] == 14464  # what TFLite Micro allocates for it on x86-64
    assert entry["arena_bytes"] == 16384  # + 10 %, in whole KiB
    assert entry["flash_bytes"] == SHIPPED_INT8.stat().st_size


def test_tflm_scores_what_it_was_measured_to_and_stays_within_a_step_of_litert(micro_export, real_data):
    _, manifest, _ = micro_export
    verified = manifest["artifacts"]["tflm"]["verified"]
    assert verified["accuracy"] == 0.9326  # LiteRT with XNNPACK: 0.9324
    assert verified["source"] == "tflite-int8" and verified["max_source_steps"] == 2.0
    assert verified["source_agreement"] == 0.9991  # 9 labels differ: the last layer's rounding


def test_the_c_engine_computes_tflm_s_int8_logits_on_every_test_image(micro_export, real_data):
    out, manifest, _ = micro_export
    verified = manifest["artifacts"]["c"]["verified"]
    assert verified["source"] == "tflm" and verified["max_source_steps"] == 0.0
    assert verified["source_agreement"] == 1.0 and verified["accuracy"] == 0.9326
    pixels = real_data.x_test[:2000, ..., None]
    engine, tflm = micro.CBackend(out / "fmnist_model.c"), micro.TflmBackend(out / "model_data.cc")
    np.testing.assert_array_equal(engine.bare()(pixels), tflm.bare()(pixels))
    assert engine.metadata["class_names"] == tflm.metadata["class_names"] and engine.metadata["precision"] == "int8"
    assert manifest["artifacts"]["c"]["ram_bytes"] == 7424  # the last convolution's input, output and windows
    assert manifest["artifacts"]["c"]["flash_bytes"] == convert_c.describe(out / "fmnist_model.c")["flash_bytes"]


def test_the_c_engine_compiles_as_strict_c99_without_a_warning(micro_export, tmp_path):
    out, _, _ = micro_export
    built = subprocess.run(
        [micro.compiler(), "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c",
         str(out / "fmnist_model.c"), "-o", str(tmp_path / "engine.o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr


def test_the_golden_vectors_of_both_are_checked_here(micro_export):
    out, _, _ = micro_export
    result = run_fmnist("check", str(out))
    assert result.returncode == 0, result.stderr
    assert "ok c (c): every label the same; largest |Δ logit| 0" in result.stdout
    assert "ok tflm (tflite-micro): every label the same; largest |Δ logit| 0" in result.stdout


def test_a_model_the_c_engine_cannot_run_is_refused_naming_the_operator_and_nothing_is_published(tmp_path):
    import keras

    pixels = keras.Input((28, 28, 1), dtype="uint8")
    features = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(pixels))
    logits = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))  # a MEAN in TFLite
    keras.Model(pixels, logits).save(tmp_path / "mean.keras")
    out = tmp_path / "out"
    result = run_fmnist("export", str(tmp_path / "mean.keras"), "--format", "c", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the model has a MEAN operator, which the C engine does not support (it supports QUANTIZE, "
        "CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED); export --format tflm runs it "
        "with TFLite Micro"
    )
    assert list(out.iterdir()) == []


def test_an_arena_too_small_for_tflite_micro_is_a_clear_error(micro_export, tmp_path):
    out, _, _ = micro_export
    shutil.copy(out / "model_data.cc", tmp_path)
    header = (out / "model_data.h").read_text().replace("kFmnistArenaBytes = 16384", "kFmnistArenaBytes = 2048")
    (tmp_path / "model_data.h").write_text(header)
    with pytest.raises(FmnistError, match="TFLite Micro cannot run it in 2048 bytes"):
        micro.TflmBackend(tmp_path / "model_data.cc")


def test_resolver_calls_follow_tflite_micro_s_names():
    assert [convert_tflm.resolver_call(op) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN")] == [
        "AddConv2D", "AddDepthwiseConv2D", "AddFullyConnected", "AddMean",
    ]  # fmt: skip


def test_the_profiles_of_both_list_the_int8_model_s_operators_and_their_macs(micro_export):
    from fmnist.bench.profile import profile, tflite_profile

    out, _, _ = micro_export
    litert = tflite_profile(SHIPPED_INT8, None)["ops"]
    assert profile(out / "model_data.cc", None)["ops"] == litert
    assert profile(out / "fmnist_model.c", None)["ops"] == [o for o in litert if o["op"] != "RESHAPE"]  # no code


def test_bench_mcu_measures_the_c_engine_on_the_emulated_board_beside_tflm(micro_export, real_data, tmp_path):
    out, manifest, _ = micro_export
    result = run_fmnist("bench", "mcu", str(out), "--board-images", "20", "--images", "500", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "mcu.json").read_text())
    tflm, c = report["rows"]
    assert (tflm["format"], tflm["flash_bytes"], tflm["ram_bytes"]) == ("tflm", SHIPPED_INT8.stat().st_size, 16384)
    predicted = micro.CBackend(out / "fmnist_model.c")(real_data.x_test[:500, ..., None]).argmax(axis=1)
    assert tflm["accuracy"] == c["accuracy"] == (predicted == real_data.y_test[:500]).mean()  # the same logits
    assert tflm["instructions_per_inference"] is None and report["accuracy_images"] == 500
    board = report["board"]
    assert board["images"] == 20 and board["logits_identical"] and report["problems"] == []
    assert c["ram_bytes"] == board["engine"]["ram"]["total"] <= 8 * 1024  # two activation buffers and a stack
    assert c["ram_bytes"] > manifest["artifacts"]["c"]["ram_bytes"]  # the buffers, and the stack measured
    assert c["flash_bytes"] > manifest["artifacts"]["c"]["flash_bytes"]  # the tables, and the code
    assert 1_900_000 < c["instructions_per_inference"] < 4_700_000  # above one a MAC, below CMSIS-NN's 4.70 M
    assert "│ c      │ no library   │" in result.stdout
    assert f"| c | no library | {c['flash_bytes'] / 1024:.1f} KiB |" in (tmp_path / "mcu.md").read_text()


def test_bench_mcu_without_the_board_s_tools_reads_the_engine_s_size_from_its_source(micro_export, tmp_path):
    out, manifest, _ = micro_export
    tools = tmp_path / "bin"  # this machine's /usr/bin without the cross compiler and qemu
    tools.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if not tool.name.startswith(("arm-none-eabi-", "qemu-system-")):
            (tools / tool.name).symlink_to(tool)
    result = run_fmnist("bench", "mcu", str(out), "--images", "100", "--out", str(tmp_path), env={"PATH": str(tools)})
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "mcu.json").read_text())
    c = report["rows"][1]
    assert (c["flash_bytes"], c["ram_bytes"]) == (manifest["artifacts"]["c"]["flash_bytes"], 7424)
    assert c["instructions_per_inference"] is None and report["board"] is None
    assert report["notes"] == [
        "the C engine was not run on the emulated board: no arm-none-eabi-gcc, arm-none-eabi-size, qemu-system-arm "
        "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc)"
    ]


def test_bench_mcu_of_a_folder_without_microcontroller_formats_says_how_to_make_them(tmp_path):
    folder = tmp_path / "shipped"
    _without_micro(folder)
    result = run_fmnist("bench", "mcu", str(folder), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {folder} has no intact tflm or c artifact; make them with `fmnist export {folder} --format tflm,c`"
    )
    assert not (tmp_path / "out").exists()


def test_the_c_engine_computes_tflm_s_logits_for_every_kind_of_layer_it_supports(real_data, tmp_path):
    """Strides, odd channel counts, SAME and VALID padding, a depthwise convolution with a depth
    multiplier, RELU6, non-square windows, a pool made as its convolution runs (over an odd number
    of pixels a band) and an overlapping padded one: what the shipped model does not use, exported
    and gated at 0 steps from TFLite Micro on the 10,000 test images. (Keras's dilated convolutions
    reach TFLite as SPACE_TO_BATCH_ND, refused.)"""
    import keras

    layers = keras.layers
    pixels = keras.Input((28, 28, 1), dtype="uint8")
    x = layers.Conv2D(5, 3, strides=2, padding="same", activation="relu")(layers.Rescaling(1 / 255)(pixels))
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
    x = layers.MaxPooling2D(3)(layers.Conv2D(6, (3, 4), activation="relu")(x))  # 12 x 11, pooled to 4 x 3
    x = layers.MaxPooling2D(2, strides=1, padding="same")(layers.Conv2D(7, (1, 3), padding="same")(x))
    logits = layers.Dense(10)(layers.Flatten()(x))
    keras.Model(pixels, logits).save(tmp_path / "layers.keras")
    out = tmp_path / "out"
    result = run_fmnist(
        "export", str(tmp_path / "layers.keras"), "--format", "c", "--out", str(out), "--max-accuracy-drop", "1"
    )
    assert result.returncode == 0, result.stderr
    verified = json.loads((out / "manifest.json").read_text())["artifacts"]["c"]["verified"]
    assert verified["source"] == "tflm" and verified["source_agreement"] == 1.0 and verified["max_source_steps"] == 0
    source = (out / "fmnist_model.c").read_text()
    for used in (".depth_multiplier = 2", ".stride_h = 2", ".k_h = 3, .k_w = 4", ".k_h = 1, .k_w = 3, .stride_h = 1"):
        assert used in source, used
    assert source.count("conv_pool(x, y") == 1 and source.count("max_pool(x, y") == 1
    measured = board.run(
        out / "fmnist_model.c", tmp_path / "board", real_data.x_test[:50], real_data.y_test[:50], lambda step: None
    )
    assert measured["problems"] == [] and measured["logits_identical"]  # the Cortex-M4's DSP instructions too
