"""`fmnist bench --profile`: where the time goes, operator by operator.

ONNX files run under onnxruntime's own profiler (`enable_profiling`): each node's kernel time
in execution order, per image of a batch of BATCH, averaged over the middle half of the calls
by their whole time (robust to a stray slow call, and over the same calls as the whole run's
time, so the kernels never add up to more than the run). Not batch 1:
the profiler adds a few µs to every kernel it times, which at batch 1 is as much as the small
kernels take (their sum then exceeds the whole unprofiled call); at batch 64 the kernels add
up to 90 % or more of the profiled run. LiteRT's Python API has no operator profiler
(TensorFlow's `benchmark_model` tool has one), so a TFLite file's operators are read from its
flatbuffer and each gets its multiply-accumulates and their share of the model's instead.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from fmnist import formats

BATCH = 64
CALLS = 40
NO_TIMER = "LiteRT's Python API has no operator profiler: its operators' multiply-accumulates instead"


def onnx_profile(path: Path, pixels: np.ndarray, calls: int = CALLS, batch: int = BATCH) -> dict:
    """Kernel time per image of every node of `path`, and of the whole run, over the middle
    half of `calls` calls of `batch` images on one thread."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        batches = [pixels[i : i + batch] for i in range(0, len(pixels) - batch + 1, batch)]
        for i in range(calls):
            session.run(None, {name: batches[i % len(batches)]})
        events = json.loads(Path(session.end_profiling()).read_text())
    times: dict[str, list[int]] = defaultdict(list)
    kinds, runs = {}, []
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"].removesuffix("_kernel_time")
            times[node].append(event["dur"])
            kinds[node] = event["args"].get("op_name", "?")
        elif event.get("cat") == "Session" and event["name"] == "model_run":
            runs.append(event["dur"])
    by_time = sorted(range(len(runs)), key=runs.__getitem__)  # each node runs once per call, in call order
    middle = by_time[len(runs) // 4 : len(runs) - len(runs) // 4]
    kernel_us = {node: statistics.fmean(durations[i] for i in middle) / batch for node, durations in times.items()}
    total = sum(kernel_us.values()) or 1
    return {
        "timed": True,
        "batch": batch,
        "run_us": statistics.fmean(runs[i] for i in middle) / batch,
        "ops": [{"node": node, "op": kinds[node], "us": us, "share": us / total} for node, us in kernel_us.items()],
    }


def macs(op: str, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> int:
    """Multiply-accumulates of one TFLite operator for one image, from its tensors' shapes."""
    if op == "CONV_2D":  # output [1, h, w, c_out], filter [c_out, kh, kw, c_in]
        return int(np.prod(outputs[0][1:]) * np.prod(inputs[1][1:]))
    if op == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, c]
        return int(np.prod(outputs[0][1:]) * inputs[1][1] * inputs[1][2])
    if op == "FULLY_CONNECTED":  # weights [units, features]
        return int(np.prod(inputs[1]))
    return 0


def tflite_profile(path: Path, pixels: np.ndarray) -> dict:
    """Every operator of a TFLite file, in order, with its multiply-accumulates and their share (read from
    the file: `pixels` is not needed)."""
    return _flatbuffer_profile(path.read_bytes(), NO_TIMER)


def tflm_profile(path: Path, pixels: np.ndarray) -> dict:
    """The operators of the flatbuffer a TFLite Micro `model_data.cc` holds, as for a TFLite file."""
    from fmnist.runtime import micro

    return _flatbuffer_profile(micro.model_bytes(path), NO_TIMER.replace("LiteRT", "TFLite Micro"))


def c_profile(path: Path, pixels: np.ndarray) -> dict:
    """The C engine's operators with their multiply-accumulates, as its generated source lists them."""
    found = re.findall(r"/\* operator (\d+) (\w+): (\d+) MACs \*/", path.read_text())
    ops = [{"node": f"{i} {op.lower()}", "op": op, "macs": int(n)} for i, op, n in found]
    return _shares(ops, "the C engine has no timer of its own: its operators' multiply-accumulates instead")


def _shares(ops: list[dict], note: str) -> dict:
    total = sum(o["macs"] for o in ops) or 1
    for o in ops:
        o["share"] = o["macs"] / total
    return {"timed": False, "note": note, "ops": ops}


def _flatbuffer_profile(flatbuffer: bytes, note: str) -> dict:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    names = {value: key for key, value in vars(schema.BuiltinOperator).items() if key.isupper()}
    ops = []
    for i in range(graph.OperatorsLength()):
        operator = graph.Operators(i)
        code = model.OperatorCodes(operator.OpcodeIndex())
        op = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs = [operator.Inputs(j) for j in range(operator.InputsLength())]
        outputs = [operator.Outputs(j) for j in range(operator.OutputsLength())]
        shapes = (
            [graph.Tensors(t).ShapeAsNumpy() for t in inputs if t >= 0],
            [graph.Tensors(t).ShapeAsNumpy() for t in outputs],
        )
        ops.append({"node": f"{i} {op.lower()}", "op": op, "macs": macs(op, *shapes)})
    return _shares(ops, note)


def profile(path: Path, pixels: np.ndarray) -> dict:
    """The profile of one artifact file, by the family of its format."""
    runtime = formats.RUNTIMES[formats.family_of(path)]
    return {"file": str(path), **runtime.load("profile")(path, pixels)}
