"""The exported graphs are lean: each file's operators, after onnxruntime's own optimisation
for ONNX and as stored for TFLite, are what the model computes and nothing more."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

PLUMBING = {"Transpose", "Shape", "Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Mul", "Add", "Cast"}
PLUMBING_TFLITE = {"SHAPE", "STRIDED_SLICE", "PACK", "TRANSPOSE", "MUL", "ADD", "CAST", "QUANTIZE", "DEQUANTIZE"}


def onnx_ops(path: Path, tmp_path: Path) -> Counter:
    """Operators of an ONNX file after onnxruntime's optimisation, as a session on this CPU runs it."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.optimized_model_filepath = str(tmp_path / f"optimised-{path.name}")
    options.log_severity_level = 3  # not the warning that the saved graph is specific to this CPU
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)


def tflite_ops(path: Path) -> Counter:
    """Operators of a TFLite flatbuffer's main subgraph, by builtin name."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    graph, names = model.Subgraphs(0), {v: k for k, v in vars(schema.BuiltinOperator).items() if k.isupper()}
    codes = (model.OperatorCodes(graph.Operators(i).OpcodeIndex()) for i in range(graph.OperatorsLength()))
    return Counter(names[max(c.BuiltinCode(), c.DeprecatedBuiltinCode())] for c in codes)


def extra(ops: Counter, plumbing: set[str], allowed: dict[str, int]) -> dict[str, int]:
    """The plumbing operators beyond what is allowed, by name and count."""
    return {op: n - allowed.get(op, 0) for op, n in ops.items() if op in plumbing and n > allowed.get(op, 0)}


def test_float_onnx_is_the_convolutions_and_the_dense_layer(exported, tmp_path):
    ops = onnx_ops(exported[0] / "model.onnx", tmp_path)
    assert extra(ops, PLUMBING, {"Cast": 1}) == {}, ops  # one Cast: the contract's uint8 pixels to float
    assert ops["Conv"] == 3 and ops["Gemm"] + ops["MatMul"] == 1, ops


def test_int8_onnx_computes_every_layer_in_int8(exported, tmp_path):
    ops = onnx_ops(exported[0] / "model.int8.onnx", tmp_path)
    assert extra(ops, PLUMBING | {"QuantizeLinear", "DequantizeLinear"}, {"DequantizeLinear": 1}) == {}, ops
    assert ops["QLinearConv"] == 3 and ops["QGemm"] == 1, ops  # the output's DequantizeLinear gives float logits
    assert not {"Conv", "Gemm", "MatMul"} & set(ops), ops


@pytest.mark.parametrize("file, allowed", [("model.tflite", {"CAST": 1}), ("model.int8.tflite", {"QUANTIZE": 1})])
def test_tflite_is_the_convolutions_and_the_dense_layer(exported, file, allowed):
    ops = tflite_ops(exported[0] / file)
    assert extra(ops, PLUMBING_TFLITE, allowed) == {}, ops  # float: uint8 → float; int8: uint8 → int8
    assert ops["CONV_2D"] == 3 and ops["FULLY_CONNECTED"] == 1 and ops["RESHAPE"] == 1, ops


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["cnn", "mlp", "edge-s2"])
def test_every_architecture_exports_lean(arch, real_data, tmp_path):
    from fmnist import contract
    from fmnist.export import convert_onnx, convert_tflite
    from fmnist.export.lean import deployable
    from fmnist.export.options import ExportOptions, Job
    from fmnist.train import models

    model = models.build(arch)
    pixels = real_data.x_test[:64, ..., None]
    twin = deployable(model)
    assert np.abs(np.asarray(twin(pixels)) - np.asarray(model(pixels))).max() < 1e-4
    assert not any(layer.__class__.__name__ in ("Rescaling", "Dropout", "Reshape") for layer in twin.layers)
    for convert, file in ((convert_onnx.to_onnx, "model.onnx"), (convert_tflite.to_tflite, "model.tflite")):
        convert(Job(model, tmp_path / file, contract.metadata("0" * 64, "float32"), ExportOptions()))
    assert extra(onnx_ops(tmp_path / "model.onnx", tmp_path), PLUMBING, {"Cast": 1}) == {}
    assert extra(tflite_ops(tmp_path / "model.tflite"), PLUMBING_TFLITE, {"CAST": 1}) == {}
