"""Rewrite rules (onnxscript's pattern rewriter) for what the int8 quantiser leaves at the input.

Calibrated on 0..255 pixels, onnxruntime's quantiser gives the first convolution's input a
scale of 1 and a zero point of 0, then computes that input as Cast(pixels) → Reshape →
QuantizeLinear: an identity on uint8 pixels, so `uint8_pixels_are_quantised` feeds the
pixels on as they are. tf2onnx turns the NHWC → NCHW transpose of a one-channel image into a
Reshape; onnxruntime's int8 convolutions run in NHWC and put a Transpose back in front of
them, which it cancels only against a Transpose: `one_channel_transpose` restores it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx_ir as ir
from onnxscript.rewriter import pattern

FLOAT = 1  # onnx.TensorProto.FLOAT


def _cast_reshape_quantize(op: Any, x: Any, shape: Any, scale: Any, zero_point: Any) -> Any:
    return op.QuantizeLinear(op.Reshape(op.Cast(x, to=FLOAT), shape), scale, zero_point)


def _reshape(op: Any, x: Any, shape: Any, scale: Any, zero_point: Any) -> Any:
    return op.Reshape(x, shape)


def _is_identity(context: Any, x: Any, scale: Any, zero_point: Any, **_: Any) -> bool:
    s, z = scale.const_value, zero_point.const_value
    return (
        x.dtype == ir.DataType.UINT8
        and s is not None
        and z is not None
        and z.dtype == ir.DataType.UINT8
        and bool(np.all(s.numpy() == 1) and np.all(z.numpy() == 0))
    )


def _reshape_only(op: Any, x: Any, shape: Any) -> Any:
    return op.Reshape(x, shape)


def _transpose(op: Any, x: Any, shape: Any) -> Any:
    return op.Transpose(x, perm=[0, 3, 1, 2])


def _is_one_channel_to_nchw(context: Any, x: Any, shape: Any, **_: Any) -> bool:
    target, dims = shape.const_value, x.shape
    if x.dtype != ir.DataType.UINT8 or target is None or dims is None or len(dims) != 4 or dims[3] != 1:
        return False  # only the pixels themselves, once uint8_pixels_are_quantised has run
    return [int(d) for d in target.numpy()[1:]] == [1, dims[1], dims[2]]


RULES = [
    pattern.RewriteRule(_cast_reshape_quantize, _reshape, _is_identity, name="uint8_pixels_are_quantised"),
    pattern.RewriteRule(_reshape_only, _transpose, _is_one_channel_to_nchw, name="one_channel_transpose"),
]
