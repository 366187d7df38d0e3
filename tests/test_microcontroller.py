"""The microcontroller exports of the shipped int8 model (TFLite Micro sources and the generated C
engine), made by the real converters from the shipped int8 TFLite file and verified by their real
runtimes on the 10,000 test images; and a model the C engine cannot run, refused."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from conftest import run_fmnist
from test_publish import StandIn

from fmnist import folders
from fmnist.errors import FmnistError
from fmnist.export import convert_c, convert_tflm, exporter
from fmnist.runtime import micro

SHIPPED_INT8 = folders.SHIPPED / "model.int8.tflite"
pytestmark = pytest.mark.skipif(micro.compiler() is None, reason="no C compiler")


@pytest.fixture(scope="module")
def micro_export(real_data, tmp_path_factory):
    """`fmnist export --format tflm,c` of the shipped model: the Keras model stood in for by the shipped
    float ONNX model, the int8 TFLite converter by a copy of the shipped file, the rest real."""
    tmp = tmp_path_factory.mktemp("micro")
    model = tmp / "run" / "model.keras"
    model.parent.mkdir()
    model.write_bytes(b"a model")
    real = exporter._converter

    def converter(fmt):
        if fmt.name == "tflite-int8":
            return lambda job: shutil.copyfile(SHIPPED_INT8, job.target)
        return real(fmt)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exporter, "load_keras", lambda path: StandIn(folders.SHIPPED / "model.onnx"))
        patch.setattr(exporter, "_converter", converter)
        manifest = exporter.export(model, ["tflm,c"], tmp / "out")
    return tmp / "out", manifest


def test_both_exports_publish_their_sources_and_headers_and_no_int8_tflite(micro_export):
    out, manifest = micro_export
    assert sorted(p.name for p in out.iterdir()) == [
        "fmnist_model.c", "fmnist_model.h", "golden.npz", "manifest.json", "model_data.cc", "model_data.h",
        "model_ops.h",
    ]  # fmt: skip
    assert list(manifest["artifacts"]) == ["tflm", "c"]
    assert manifest["artifacts"]["tflm"]["companions"] == ["model_data.h", "model_ops.h"]
    assert manifest["artifacts"]["c"]["companions"] == ["fmnist_model.h"]


def test_the_tflm_array_is_the_int8_model_byte_for_byte_with_its_operators_and_arena(micro_export):
    out, manifest = micro_export
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
    _, manifest = micro_export
    verified = manifest["artifacts"]["tflm"]["verified"]
    assert verified["accuracy"] == 0.9326  # LiteRT with XNNPACK: 0.9324
    assert verified["source"] == "tflite-int8" and verified["max_source_steps"] == 2.0
    assert verified["source_agreement"] == 0.9991  # 9 labels differ: the last layer's rounding


def test_the_c_engine_computes_tflm_s_int8_logits_on_every_test_image(micro_export, real_data):
    out, manifest = micro_export
    verified = manifest["artifacts"]["c"]["verified"]
    assert verified["source"] == "tflm" and verified["max_source_steps"] == 0.0
    assert verified["source_agreement"] == 1.0 and verified["accuracy"] == 0.9326
    pixels = real_data.x_test[:2000, ..., None]
    engine, tflm = micro.CBackend(out / "fmnist_model.c"), micro.TflmBackend(out / "model_data.cc")
    np.testing.assert_array_equal(engine.bare()(pixels), tflm.bare()(pixels))
    assert engine.metadata["class_names"] == tflm.metadata["class_names"] and engine.metadata["precision"] == "int8"
    assert manifest["artifacts"]["c"]["ram_bytes"] == 7840  # the largest two activations side by side
    assert manifest["artifacts"]["c"]["flash_bytes"] == convert_c.describe(out / "fmnist_model.c")["flash_bytes"]


def test_the_c_engine_compiles_as_strict_c99_without_a_warning(micro_export, tmp_path):
    out, _ = micro_export
    built = subprocess.run(
        [micro.compiler(), "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c",
         str(out / "fmnist_model.c"), "-o", str(tmp_path / "engine.o")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr


def test_the_golden_vectors_of_both_are_checked_here(micro_export):
    out, _ = micro_export
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
    out, _ = micro_export
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

    out, _ = micro_export
    litert = tflite_profile(SHIPPED_INT8, None)["ops"]
    assert profile(out / "model_data.cc", None)["ops"] == litert
    assert profile(out / "fmnist_model.c", None)["ops"] == [o for o in litert if o["op"] != "RESHAPE"]  # no code
