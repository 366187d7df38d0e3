"""Keras → ONNX float (tf2onnx), a user's ONNX model → ONNX float (its adapted graph), and ONNX float →
ONNX int8 (onnxruntime.quantization, QDQ, then onnx_rules)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract
from fmnist.export.options import CalibrationMethod, Job


def _finish(model: Any, meta: dict) -> Any:
    """Name the output, pin the IR version to the oldest its opsets allow, attach metadata."""
    import onnx

    (output,) = model.graph.output
    if output.name != contract.OUTPUT_NAME:
        for node in model.graph.node:
            node.output[:] = [contract.OUTPUT_NAME if o == output.name else o for o in node.output]
        output.name = contract.OUTPUT_NAME
    opsets = [onnx.helper.make_opsetid(o.domain, o.version) for o in model.opset_import]
    model.ir_version = onnx.helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {contract.METADATA_KEY: json.dumps(meta)})
    model.producer_name = "fmnist"
    return model


def _save(model: Any, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def to_onnx(job: Job) -> None:
    """Convert the model's deployable twin through a `tf.function` with an input signature
    (`from_keras` breaks on Keras 3)."""
    import tensorflow as tf
    import tf2onnx

    from fmnist.export.lean import deployable

    model = deployable(job.model)
    signature = [tf.TensorSpec([None, *contract.INPUT_SHAPE], tf.uint8, name=contract.INPUT_NAME)]

    @tf.function(input_signature=signature)
    def forward(pixels: Any) -> Any:
        return model(pixels, training=False)

    converted, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=job.options.opset)
    _save(_finish(converted, job.metadata), job.target)


def adopt(job: Job) -> None:
    """A user's ONNX model, adapted to the contract (`fmnist.export.onnx_source`), with fmnist's metadata."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(job.model)
    _save(_finish(model, job.metadata), job.target)


class CalibrationReader:
    """Feeds calibration images to onnxruntime's calibrator in batches."""

    def __init__(self, images: np.ndarray, batch: int = 64):
        self.batches = [images[i : i + batch] for i in range(0, len(images), batch)]
        self.position = 0

    def get_next(self) -> dict | None:
        if self.position == len(self.batches):
            return None
        self.position += 1
        return {contract.INPUT_NAME: self.batches[self.position - 1]}

    def rewind(self) -> None:
        self.position = 0


def quantize(job: Job) -> None:
    """Static int8 QDQ quantisation of the float ONNX model, per-channel weights, calibrated on
    the job's images; the uint8 pixels then go straight into the first int8 convolution."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod as Method
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxscript.rewriter import rewrite

    from fmnist.export.onnx_rules import RULES

    assert job.source is not None and job.calibration is not None  # the registry gives both
    methods = {
        CalibrationMethod.minmax: Method.MinMax,
        CalibrationMethod.entropy: Method.Entropy,
        CalibrationMethod.percentile: Method.Percentile,
    }
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(job.source), str(prepared))
        quantize_static(
            str(prepared),
            str(job.target),
            CalibrationReader(job.calibration),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,  # U8S8: what x86 int8 kernels run, and uint8 pixels fit as they are
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=methods[job.options.calibration_method],
        )
    model = rewrite(onnx.load(str(job.target)), pattern_rewrite_rules=RULES)
    _save(_finish(model, job.metadata), job.target)  # the quantiser drops metadata_props
