"""The backends' own promises on real files: the settings each runtime is given, its missing-package
message, and errors that name the file."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fmnist import folders, formats
from fmnist.errors import ContractError, FmnistError, MissingExtra
from fmnist.runtime import backends

SHIPPED_TFLITE = folders.SHIPPED / "model.int8.tflite"
SHIPPED_ONNX = folders.SHIPPED / "model.onnx"


def _rewritten_tflite(tmp_path, change, name):
    """The shipped int8 TFLite file with its graph changed by `change(subgraph, schema, model)`."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(SHIPPED_TFLITE.read_bytes()), 0)
    change(model.subgraphs[0], schema, model)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / name
    path.write_bytes(builder.Output())
    return path


def test_onnxruntime_gets_the_thread_count_on_the_cpu_alone():
    options = backends.OnnxBackend(SHIPPED_ONNX, threads=3).session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (3, 1)
    default = backends.OnnxBackend(SHIPPED_ONNX).session.get_session_options()
    assert (default.intra_op_num_threads, default.inter_op_num_threads) == (0, 0)  # onnxruntime's own choice


@pytest.mark.parametrize("threads", [None, 2])
def test_litert_gets_the_thread_count_only_when_one_is_given(monkeypatch, threads):
    given = []
    real = backends._tflite_interpreter()

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs):
            given.append(kwargs)
            super().__init__(**kwargs)

    Recording.__module__ = real.__module__
    monkeypatch.setattr(backends, "_tflite_interpreter", lambda: Recording)
    backends.LiteRTBackend(SHIPPED_TFLITE, threads=threads)
    assert given == [{"model_path": str(SHIPPED_TFLITE), **({"num_threads": 2} if threads else {})}]


def test_a_missing_onnxruntime_names_the_extra_that_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    with pytest.raises(MissingExtra) as missing:
        backends.OnnxBackend(SHIPPED_ONNX)
    assert str(missing.value) == f"{SHIPPED_ONNX}: running .onnx models needs onnxruntime: pip install 'fmnist[onnx]'"
    assert missing.value.extra == "onnx"


def test_the_second_tflite_runtime_is_taken_when_the_first_is_missing(monkeypatch):
    tflite = formats.RUNTIMES["tflite"]
    monkeypatch.setitem(
        formats.RUNTIMES, "tflite", formats.replace(tflite, modules=("no_such_runtime", "ai_edge_litert"))
    )
    assert backends._tflite_interpreter().__module__.startswith("ai_edge_litert")
    monkeypatch.setitem(formats.RUNTIMES, "tflite", formats.replace(tflite, modules=("no_such_runtime",)))
    assert backends._tflite_interpreter() is None


def test_a_tflite_file_outside_the_contract_is_refused_by_its_path(tmp_path):
    def int8_input(graph, schema, model):
        graph.tensors[graph.inputs[0]].type = schema.TensorType.INT8

    path = _rewritten_tflite(tmp_path, int8_input, "int8-input.tflite")
    with pytest.raises(ContractError) as caught:
        backends.LiteRTBackend(path)
    assert str(caught.value).startswith(f"{path}: takes int8 ")


def test_an_onnx_file_outside_the_contract_is_refused_by_its_path(tmp_path):
    import onnx

    model = onnx.load(SHIPPED_ONNX)
    model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    path = tmp_path / "float-input.onnx"
    onnx.save(model, path)
    with pytest.raises(ContractError) as caught:
        backends.OnnxBackend(path)
    assert str(caught.value).startswith(f"{path}: takes float [N, 28, 28, 1]")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FmnistError) as caught:
        backends.open_backend(tmp_path / "gone.onnx")
    assert str(caught.value) == f"{tmp_path / 'gone.onnx'}: no such model file"


def test_a_float_tflite_file_gives_its_float_logits_as_they_are(tmp_path, real_data):
    import keras
    import tensorflow as tf

    pixels = keras.Input((28, 28, 1), dtype="uint8")
    logits = keras.layers.Dense(10)(keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(pixels)))
    model = keras.Model(pixels, logits)
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    backend = backends.LiteRTBackend(path)
    assert backend.output_quantisation == (0.0, 0)
    images = real_data.x_test[:8]
    got = backend(images)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict(images, verbose=0), atol=1e-5)
