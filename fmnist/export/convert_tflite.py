"""Keras → TFLite float, and → full-integer int8 TFLite (uint8 pixels in, int8 logits out)."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from typing import Any

import numpy as np

from fmnist import contract
from fmnist.export.options import Job


def _convert(converter: Any) -> bytes:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")  # scale 1 is meant
        return converter.convert()  # Keras prints the serving signature to stdout


def _converter(keras_model: Any) -> Any:
    """A converter of the frozen model (a concrete function would keep resource variables)."""
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(keras_model)


def with_metadata(flatbuffer: bytes, meta: dict) -> bytes:
    """Add (or replace) the fmnist JSON metadata entry of a TFLite flatbuffer."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = contract.METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != contract.METADATA_KEY.encode()] + [entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def to_tflite(job: Job) -> None:
    """Float32 TFLite of the model's deployable twin: uint8 pixels in, one Cast to float."""
    from fmnist.export.lean import deployable

    job.target.write_bytes(with_metadata(_convert(_converter(deployable(job.model))), job.metadata))


def to_tflite_int8(job: Job) -> None:
    """Full-integer TFLite (TFLITE_BUILTINS_INT8 only), calibrated on the job's images.

    The twin converted takes float32 pixels of 0..255: calibrated on those, the converter
    gives the int8 model a uint8 input with scale 1 and zero point 0, so the pixels go
    straight in and no float Cast is left in the graph.
    """
    import tensorflow as tf

    from fmnist.export.lean import deployable

    assert job.calibration is not None  # the registry marks int8 formats as calibrated
    converter = _converter(deployable(job.model, input_dtype="float32"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = job.calibration.astype(np.float32)
    converter.representative_dataset = lambda: ([image[None]] for image in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.int8
    job.target.write_bytes(with_metadata(_convert(converter), job.metadata))
