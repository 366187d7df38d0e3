"""What each operator of an int8 graph becomes in the C engine: its constant tables and its kernel
call (the kernels are `c_kernels.c`'s). The multipliers, shifts and activation ranges are derived
the way TFLite Micro derives them when it prepares; the weights are laid out in the order the
kernels read them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fmnist.errors import FmnistError
from fmnist.export.tflite_graph import Graph, Operator, Tensor

SAME, VALID = 0, 1  # TFLite's Padding
ACTIVATIONS = {0: None, 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}  # NONE, RELU, RELU_N1_TO_1, RELU6


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: `real` as a 31-bit fixed-point multiplier and a power-of-two shift."""
    if real == 0:
        return 0, 0
    fraction, shift = math.frexp(real)
    fixed = int(math.copysign(math.floor(abs(fraction) * 2**31 + 0.5), fraction))  # std::round
    if fixed == 2**31:
        fixed, shift = fixed // 2, shift + 1
    return (0, 0) if shift < -31 else (fixed, shift)


def activation_range(fused: int, output: Tensor) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for an int8 output."""
    if fused not in ACTIVATIONS:
        raise FmnistError(f"the C engine does not support the fused activation {fused}")
    bounds = ACTIVATIONS[fused]
    if bounds is None:
        return -128, 127
    scale, zero_point = np.float32(output.scale[0]), int(output.zero_point[0])

    def quantized(value: float) -> int:
        return zero_point + int(math.copysign(math.floor(abs(np.float32(value) / scale) + 0.5), value))

    low, high = bounds
    return max(-128, quantized(low)), 127 if high is None else min(127, quantized(high))


def padding(padding: int, size: int, kernel: int, stride: int, dilation: int, out: int) -> int:
    """TFLite's ComputePaddingWithOffset: the padding before the first row or column."""
    if padding == VALID:
        return 0
    effective = (kernel - 1) * dilation + 1
    return max((out - 1) * stride + effective - size, 0) // 2


@dataclass
class Engine:
    """What the generated source holds: constant tables, one call per operator, the buffer size."""

    tables: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    arena: int = 0

    def table(self, name: str, ctype: str, values: np.ndarray) -> str:
        items = [str(int(v)) for v in np.asarray(values).ravel()]
        rows = [", ".join(items[i : i + 20]) for i in range(0, len(items), 20)]
        self.tables.append(f"static const {ctype} {name}[{len(items)}] = {{\n    " + ",\n    ".join(rows) + "\n};")
        return name

    def struct(self, kind: str, name: str, fields: dict[str, object]) -> str:
        body = ", ".join(f".{k} = {v}" for k, v in fields.items())
        self.tables.append(f"static const {kind} {name} = {{{body}}};")
        return name


def paired_filters(weights: np.ndarray) -> np.ndarray:
    """A full convolution's filters as `conv` reads them: two at a time, four values of the first,
    four of the second, ..., then each one's last n % 4 values; an odd last filter twice."""
    rows = weights.reshape(len(weights), -1)
    if len(rows) % 2:
        rows = np.vstack([rows, rows[-1:]])
    grouped = rows.shape[1] // 4 * 4
    fours = rows[:, :grouped].reshape(len(rows), -1, 4)
    return np.concatenate(
        [
            part
            for pair in range(0, len(rows), 2)
            for part in (
                fours[pair : pair + 2].transpose(1, 0, 2).ravel(),
                rows[pair, grouped:],
                rows[pair + 1, grouped:],
            )
        ]
    )


def _requantization(
    engine: Engine, name: str, graph: Graph, op: Operator, fold: bool = False, paired: bool = False
) -> dict[str, object]:
    """Per-channel multipliers and shifts of a convolution or dense layer, as TFLite Micro's
    PopulateConvolutionQuantizationParams derives them (in double precision from float32 scales).
    `fold`: the input offset goes into the bias instead, sum (x + offset) * w being sum x * w plus
    offset * sum w (a dense layer's weights are one row per output); `paired`: the weights laid out
    by `paired_filters`."""
    x, w, y = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]])
    if w.data is None or w.data.dtype != np.int8 or np.any(w.zero_point != 0):
        raise FmnistError(f"{op.name}: the C engine needs int8 weights with zero point 0")
    pairs = [
        quantize_multiplier(float(x.scale[0]) * float(s) / float(y.scale[0])) for s in np.asarray(w.scale, np.float32)
    ]
    bias = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    channels = y.shape[-1]
    bias_data = np.zeros(channels, np.int64) if bias is None or bias.data is None else bias.data.astype(np.int64)
    offset = -int(x.zero_point[0])
    if fold:
        bias_data = bias_data + offset * w.data.astype(np.int64).reshape(channels, -1).sum(axis=1)
        if np.abs(bias_data).max() >= 2**31:
            raise FmnistError(f"{op.name}: its bias and input offset do not fit an int32 accumulator")
    return {
        **({} if fold else {"in_offset": offset}),
        "out_offset": int(y.zero_point[0]),
        "weights": engine.table(
            f"{name}_weights", "int8_t", paired_filters(w.data.reshape(w.shape)) if paired else w.data
        ),
        "bias": engine.table(f"{name}_bias", "int32_t", bias_data),  # zeros where the model has none
        "multiplier": engine.table(f"{name}_multiplier", "int32_t", np.array([m for m, _ in pairs])),
        "shift": engine.table(f"{name}_shift", "int8_t", np.array([s for _, s in pairs])),
    }


def conv(engine: Engine, name: str, graph: Graph, op: Operator) -> str:
    x, w, y = (graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]])
    o = op.options
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    _, k_h, k_w, _ = w.shape
    low, high = activation_range(o.fusedActivationFunction, y)
    fields = {
        "in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c,
        "k_h": k_h, "k_w": k_w, "stride_h": o.strideH, "stride_w": o.strideW,
        "pad_h": padding(o.padding, in_h, k_h, o.strideH, o.dilationHFactor, out_h),
        "pad_w": padding(o.padding, in_w, k_w, o.strideW, o.dilationWFactor, out_w),
        "dil_h": o.dilationHFactor, "dil_w": o.dilationWFactor,
        "depth_multiplier": o.depthMultiplier if op.name == "DEPTHWISE_CONV_2D" else 0,
        "act_min": low, "act_max": high,
        **_requantization(engine, name, graph, op, paired=op.name == "CONV_2D"),
    }  # fmt: skip
    layer = engine.struct("conv_t", name, fields)
    return (
        f"depthwise(x, y, &{layer});"
        if fields["depth_multiplier"]
        else f"conv(x, y, windows, &{layer}, 0, {out_h * out_w});"
    )


def window_bytes(op: Operator, graph: Graph) -> int:
    """The int16 windows of two output pixels that a full convolution lays out (0 for other operators)."""
    if op.name != "CONV_2D":
        return 0
    _, k_h, k_w, in_c = graph.tensors[op.inputs[1]].shape
    return 2 * 2 * k_h * k_w * in_c


def max_pool(engine: Engine, name: str, graph: Graph, op: Operator) -> str:
    x, y, o = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]], op.options
    _, in_h, in_w, channels = x.shape
    _, out_h, out_w, _ = y.shape
    low, high = activation_range(o.fusedActivationFunction, y)
    fields = {
        "in_h": in_h, "in_w": in_w, "channels": channels, "out_h": out_h, "out_w": out_w,
        "k_h": o.filterHeight, "k_w": o.filterWidth, "stride_h": o.strideH, "stride_w": o.strideW,
        "pad_h": padding(o.padding, in_h, o.filterHeight, o.strideH, 1, out_h),
        "pad_w": padding(o.padding, in_w, o.filterWidth, o.strideW, 1, out_w),
        "act_min": low, "act_max": high,
    }  # fmt: skip
    return f"max_pool(x, y, &{engine.struct('pool_t', name, fields)});"


def dense(engine: Engine, name: str, graph: Graph, op: Operator) -> str:
    w, y = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
    low, high = activation_range(op.options.fusedActivationFunction, y)
    fields = {
        "inputs": w.shape[1], "outputs": w.shape[0], "per_channel": int(len(w.scale) > 1),
        "act_min": low, "act_max": high, **_requantization(engine, name, graph, op, fold=True),
    }  # fmt: skip
    return f"dense(x, y, &{engine.struct('dense_t', name, fields)});"


def quantize(graph: Graph, op: Operator) -> str:
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    multiplier, shift = quantize_multiplier(float(x.scale[0]) / float(y.scale[0]))
    return f"quantize(pixels, y, {y.size}, {int(x.zero_point[0])}, {int(y.zero_point[0])}, {multiplier}, {shift});"


KERNEL_CALLS = {"CONV_2D": conv, "DEPTHWISE_CONV_2D": conv, "MAX_POOL_2D": max_pool, "FULLY_CONNECTED": dense}
