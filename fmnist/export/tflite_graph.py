"""The operators and tensors of a TFLite flatbuffer, read with LiteRT's schema (no interpreter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    scale: np.ndarray  # float32, one per channel or one for the tensor; empty when not quantised
    zero_point: np.ndarray
    quantized_dimension: int
    data: np.ndarray | None  # the constant's values in its own dtype, None for an activation

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class Operator:
    name: str  # TFLite's builtin name: CONV_2D, FULLY_CONNECTED, ...
    inputs: tuple[int, ...]  # tensor indices; -1 for an optional input left out
    outputs: tuple[int, ...]
    options: Any  # the flatbuffer's options object (strides, padding, fused activation), or None


@dataclass(frozen=True)
class Graph:
    operators: list[Operator]
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def operator_names(self) -> list[str]:
        """Each operator the graph uses, once, in the order they first run."""
        return list(dict.fromkeys(op.name for op in self.operators))


def read(flatbuffer: bytes) -> Graph:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    builtin = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    dtypes = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
    dtype = {"INT8": np.int8, "INT32": np.int32, "UINT8": np.uint8, "FLOAT32": np.float32, "INT64": np.int64}
    subgraph = model.subgraphs[0]
    tensors = []
    for t in subgraph.tensors:
        q = t.quantization
        raw = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
        data = None
        if raw is not None and len(raw):
            data = np.frombuffer(np.asarray(raw, np.uint8).tobytes(), dtype.get(dtypes[t.type], np.uint8))
        tensors.append(
            Tensor(
                tuple(int(d) for d in (t.shape if t.shape is not None else ())),
                np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32),
                np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64),
                int(q.quantizedDimension) if q is not None else 0,
                data,
            )
        )
    operators = []
    for op in subgraph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = builtin.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
        operators.append(Operator(name, tuple(int(i) for i in op.inputs), tuple(int(i) for i in op.outputs),
                                  op.builtinOptions))  # fmt: skip
    return Graph(operators, tensors, tuple(int(i) for i in subgraph.inputs), tuple(int(i) for i in subgraph.outputs))
