"""Keras → ONNX float (tf2onnx), and ONNX float → ONNX int8 (onnxruntime.quantization, QDQ)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from fmnist.export.contract import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME
from fmnist.runtime.backends import METADATA_KEY



def _finish(model, meta: dict):
    """Name the output, pin the IR version to the oldest its opsets allow, attach metadata."""
    import onnx

    (output,) = model.graph.output
    if output.name != OUTPUT_NAME:
        for node in model.graph.node:
            node.output[:] = [OUTPUT_NAME if o == output.name else o for o in node.output]
        output.name = OUTPUT_NAME
    opsets = [onnx.helper.make_opsetid(o.domain, o.version) for o in model.opset_import]
    model.ir_version = onnx.helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    model.producer_name = "fmnist"
    return model


def to_onnx(keras_model, path: Path, meta: dict, opset: int = DEFAULT_OPSET) -> None:
    """Convert through a `tf.function` with an input signature (`from_keras` breaks on Keras 3)."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec([None, 28, 28, 1], tf.uint8, name=INPUT_NAME)]

    @tf.function(input_signature=signature)
    def forward(pixels):
        return keras_model(pixels, training=False)

    model, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=opset)
    model = _finish(model, meta)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


class _Reader:
    """Feeds calibration images to onnxruntime's calibrator in batches."""

    def __init__(self, images: np.ndarray, batch: int = 64):
        self.batches = [images[i : i + batch] for i in range(0, len(images), batch)]
        self.position = 0

    def get_next(self):
        if self.position == len(self.batches):
            return None
        self.position += 1
        return {INPUT_NAME: self.batches[self.position - 1]}

    def rewind(self):
        self.position = 0


CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def quantize_onnx(
    float_path: Path, path: Path, images: np.ndarray, meta: dict,
    method: str = "minmax",
) -> None:
    """Static int8 QDQ quantisation with per-channel weights, calibrated on `images`."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared))
        quantize_static(
            str(prepared), str(path), _Reader(images),
            quant_format=QuantFormat.QDQ, per_channel=True, calibrate_method=methods[method],
        )
    model = _finish(onnx.load(str(path)), meta)  # the quantiser drops metadata_props
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
