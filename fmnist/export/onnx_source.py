"""A float ONNX classifier from elsewhere (`torch.onnx.export`, tf2onnx, ...), adapted to the model contract.

`load` reads what the graph takes (one 28×28 one-channel float image, in one of four layouts, with
a fixed or dynamic batch) and ends in; `adapted` puts the contract's uint8 pixels in front with
ONNX's own operators (Cast, the scaling, a constant Reshape, the batch made dynamic, inside the
graph too where it was exported for one image), folds the
scaling into the first convolution or matrix product where that is exact, and takes a final
Softmax, LogSoftmax or Sigmoid off. The user's file, run by onnxruntime (`outputs`), stays the reference.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract
from fmnist.adapters import LAYOUTS, Adapters, Scaling
from fmnist.errors import ContractError, FmnistError

FLOAT, UINT8 = 1, 2  # onnx.TensorProto element types
HEADS = {"Softmax": "softmax", "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax"}
PASS_THROUGH = ("Flatten", "Reshape", "Identity")  # the scaling commutes with them: folding looks past them


def _inputs(graph: Any) -> list[Any]:
    """The graph's real inputs (older exporters list the initializers among them)."""
    initialised = {i.name for i in graph.initializer}
    return [i for i in graph.input if i.name not in initialised]


def _dims(value: Any) -> list[int | str]:
    return [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in value.type.tensor_type.shape.dim]


def _shown(dims: list[int | str]) -> str:
    return "[" + ", ".join(str(d) if isinstance(d, int) else "N" for d in dims) + "]"


def _load(path: Path) -> Any:
    import onnx

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 -- protobuf and the checker raise many kinds for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FmnistError(f"{path}: not a loadable ONNX model ({first})") from None
    return model


def _head(graph: Any) -> str:
    output = graph.output[0].name
    node = next((n for n in graph.node if output in n.output), None)
    return HEADS.get(node.op_type, "logits") if node is not None else "logits"


def load(path: Path, scaling: Scaling) -> tuple[Any, Adapters]:
    """The ONNX model in `path` and its adapters; a model fmnist cannot take is a `ContractError`."""
    model = _load(path)
    inputs, outputs = _inputs(model.graph), list(model.graph.output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ContractError(
            f"{path}: has {len(inputs)} inputs and {len(outputs)} outputs; fmnist exports a model with one "
            "image input and one output of 10 classes"
        )
    dims, kind = _dims(inputs[0]), inputs[0].type.tensor_type.elem_type
    image = tuple(dims[1:])
    out = _dims(outputs[0])
    takes_contract = kind == UINT8 and image == contract.INPUT_SHAPE
    if not (takes_contract or (kind == FLOAT and image in LAYOUTS)) or out[1:] not in ([contract.NUM_CLASSES], ["?"]):
        import onnx

        dtype = onnx.helper.tensor_dtype_to_np_dtype(kind).name if kind else "unknown"
        raise ContractError(
            f"{path}: takes {dtype} {_shown(dims)} and returns {_shown(out)}; fmnist exports a model of one "
            "28×28 grayscale image (float32 [N, 1, 28, 28], [N, 28, 28, 1], [N, 28, 28] or [N, 784]) "
            f"returning [N, {contract.NUM_CLASSES}]"
        )
    head = _head(model.graph)
    if takes_contract:
        return _opset_13(path, model), Adapters(head=head)
    return _opset_13(path, model), Adapters(tuple(int(d) for d in image), scaling, head)


def _opset_13(path: Path, model: Any) -> Any:
    """The model at opset 13 or later (what per-channel int8 quantisation needs), by onnx's version converter."""
    import onnx

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset >= 13:
        return model
    try:
        return onnx.version_converter.convert_version(model, 13)
    except Exception as exc:  # noqa: BLE001 -- the converter raises its own kinds for an operator it cannot move
        raise FmnistError(
            f"{path}: opset {opset}, which onnx's version converter cannot take to 13 ({str(exc).strip()[:120]}); "
            "export it again with opset_version=13 or later"
        ) from None


def batch_of(model: Any) -> int | None:
    """The batch size the model's input fixes, or None when it is dynamic."""
    first = _dims(_inputs(model.graph)[0])[0]
    return first if isinstance(first, int) and first > 0 else None


def run(model: Any, inputs: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The first output of `model` (a file or an onnx.ModelProto) in onnxruntime, `batch` inputs a call."""
    import onnxruntime as ort

    given = str(model) if isinstance(model, Path) else model.SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # not onnxruntime's notes on the user's graph (unused initializers, ...)
    session = ort.InferenceSession(given, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: inputs[i : i + batch]})[0] for i in range(0, len(inputs), batch)])


def outputs(path: Path, model: Any, adapters: Adapters, pixels: np.ndarray) -> np.ndarray:
    """What the user's file returns for uint8 pixels fed as it takes them (one image a call when the
    file fixes its batch at 1)."""
    return run(path, adapters.feed(pixels), batch_of(model) or 1000)


def _consumers(graph: Any, name: str) -> list[Any]:
    return [n for n in graph.node if name in n.input]


def _flattened(graph: Any, node: Any) -> list[int] | None:
    """The per-image shape a Flatten (axis 1) or a constant [-1, ...] Reshape of the input gives, else None."""
    from onnx import numpy_helper

    if node.op_type == "Flatten" and next((a.i for a in node.attribute if a.name == "axis"), 1) == 1:
        return [contract.SIDE * contract.SIDE]
    shape = _initializer(graph, node.input[1]) if node.op_type == "Reshape" and node.input[0] else None
    dims = [int(d) for d in numpy_helper.to_array(shape)] if shape is not None else []
    return dims[1:] if dims and dims[0] == -1 and 0 not in dims else None


def _initializer(graph: Any, name: str) -> Any | None:
    """The initializer called `name` when no node but one reads it."""
    found = next((i for i in graph.initializer if i.name == name), None)
    return found if found is not None and len(_consumers(graph, name)) == 1 else None


def _fold(graph: Any, start: str, scale: float, offset: float) -> bool:
    """Fold `x * scale + offset` of the value `start` into the first Conv, Gemm or MatMul it reaches
    (past reshapes); False where that is not exact, changing nothing."""
    from onnx import numpy_helper

    name = start
    while True:
        readers = _consumers(graph, name)
        if len(readers) != 1 or readers[0].input[0] != name:
            return False
        node = readers[0]
        if node.op_type not in PASS_THROUGH:
            break
        name = node.output[0]
    attrs = {a.name: a for a in node.attribute}
    weight = _initializer(graph, node.input[1]) if len(node.input) > 1 else None
    bias = _initializer(graph, node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if weight is None or node.op_type not in ("Conv", "Gemm", "MatMul"):
        return False
    w = numpy_helper.to_array(weight)
    if node.op_type == "Conv":
        padded = any(attrs["pads"].ints) if "pads" in attrs else False
        padded |= "auto_pad" in attrs and attrs["auto_pad"].s not in (b"NOTSET", b"VALID")
        if offset and (padded or bias is None):
            return False
        sums = w.reshape(w.shape[0], -1).sum(axis=1)  # [out, in, kh, kw]
    elif node.op_type == "Gemm":
        alpha = attrs["alpha"].f if "alpha" in attrs else 1.0
        beta = attrs["beta"].f if "beta" in attrs else 1.0
        if ("transA" in attrs and attrs["transA"].i) or (offset and (bias is None or beta == 0)):
            return False
        trans = "transB" in attrs and attrs["transB"].i
        sums = (w.sum(axis=1) if trans else w.sum(axis=0)) * alpha / beta if offset else None
    else:  # MatMul has no bias to take an offset
        if offset or w.ndim != 2:
            return False
        sums = None
    if offset and bias is not None and sums is not None:
        b = numpy_helper.to_array(bias)
        if b.shape != sums.shape:
            return False
        bias.CopyFrom(numpy_helper.from_array((b + offset * sums).astype(b.dtype), bias.name))
    weight.CopyFrom(numpy_helper.from_array((w * scale).astype(w.dtype), weight.name))
    return True


def _free_batch(graph: Any) -> None:
    """In a graph exported for one image, reshape to -1 images where it reshapes to 1 (what
    `torch.onnx.export` writes for `nn.Flatten` without dynamic shapes): the same for one image,
    and any number of images for the rest; the export's verification checks the result."""
    from onnx import numpy_helper

    shapes = {i.name: i for i in graph.initializer}
    for node in graph.node:
        shape = shapes.get(node.input[1]) if node.op_type == "Reshape" else None
        if shape is None or any(n.op_type != "Reshape" for n in _consumers(graph, shape.name)):
            continue
        dims = numpy_helper.to_array(shape)
        if dims.ndim == 1 and len(dims) > 1 and dims[0] == 1 and -1 not in dims[1:]:
            shape.CopyFrom(numpy_helper.from_array(np.concatenate([[-1], dims[1:]]).astype(dims.dtype), shape.name))


def _take_head_off(graph: Any) -> None:
    """The graph's output becomes the input of the node that computes it (a Softmax, LogSoftmax or Sigmoid)."""
    output = graph.output[0]
    last = next(n for n in graph.node if output.name in n.output)
    graph.node.remove(last)
    output.name = last.input[0]


def _front(graph: Any, given: str, adapters: Adapters) -> list[Any]:
    """The nodes from the contract's pixels to the value `given` the user's graph reads: a cast, the
    scaling (unless folded into the first layer) and a reshape (replacing the model's own flatten)."""
    from onnx import helper, numpy_helper

    assert adapters.layout is not None and adapters.scaling is not None
    scale, offset = adapters.scaling.scale, adapters.scaling.offset
    value = "fmnist_pixels_float"
    front = [helper.make_node("Cast", [contract.INPUT_NAME], [value], to=FLOAT)]
    if not _fold(graph, given, scale, offset):
        for op, constant, neutral in (("Mul", scale, 1), ("Add", offset, 0)):
            if constant != neutral:
                name = f"fmnist_{op.lower()}"
                graph.initializer.append(numpy_helper.from_array(np.float32(constant), name))
                front.append(helper.make_node(op, [value, name], [f"{value}_{op.lower()}"]))
                value = f"{value}_{op.lower()}"
    layout, target = list(adapters.layout), given
    readers = _consumers(graph, given)
    flattened = _flattened(graph, readers[0]) if len(readers) == 1 and readers[0].input[0] == given else None
    if flattened is not None:  # the model's own flatten or reshape: one reshape does both
        graph.node.remove(readers[0])
        layout, target = flattened, readers[0].output[0]
        if readers[0].op_type == "Reshape" and not _consumers(graph, readers[0].input[1]):
            graph.initializer.remove(next(i for i in graph.initializer if i.name == readers[0].input[1]))
    graph.initializer.append(numpy_helper.from_array(np.array([-1, *layout], dtype=np.int64), "fmnist_layout"))
    front.append(helper.make_node("Reshape", [value, "fmnist_layout"], [target]))
    return front


def adapted(model: Any, adapters: Adapters) -> Any:
    """The model to export: uint8 [N, 28, 28, 1] pixels in, logits out, the user's weights."""
    import onnx
    from onnx import helper

    model = copy.deepcopy(model)
    graph = model.graph
    if batch_of(model) == 1:
        _free_batch(graph)
    if adapters.head != "logits":
        _take_head_off(graph)
    (given,) = _inputs(graph)
    graph.input.remove(given)
    reads = "fmnist_model_input" if adapters.layout is not None else contract.INPUT_NAME  # never the pixels' name
    for node in graph.node:
        node.input[:] = [reads if i == given.name else i for i in node.input]
    front = _front(graph, reads, adapters) if adapters.layout is not None else []
    graph.input.insert(0, helper.make_tensor_value_info(contract.INPUT_NAME, UINT8, ["N", *contract.INPUT_SHAPE]))
    for node in reversed(front):
        graph.node.insert(0, node)
    dims = graph.output[0].type.tensor_type.shape.dim
    if dims:
        dims[0].dim_param = "N"
    del graph.value_info[:]  # shapes inferred for a fixed batch would pin it
    return onnx.shape_inference.infer_shapes(model)
