"""int8 TFLite → a self-contained C99 engine, `fmnist_model.c` and `fmnist_model.h`.

`int fmnist_predict(const uint8_t pixels[784], int8_t logits[10])` returns the class. No library,
no heap: the weights and requantisation tables are `const` (flash), the activations live in one
static buffer, each operator reading from one end and writing to the other, a convolution's
windows (and, where a max pool follows that it can feed row by row, the rows that pool needs)
between the two. The kernels (`c_kernels.c`) compute what TFLite Micro's reference kernels
compute; `c_layers` makes each operator's tables and call, this module lays out the buffer and
writes the source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from fmnist import contract
from fmnist.bench.profile import macs
from fmnist.errors import FmnistError
from fmnist.export import c_layers, tflite_graph
from fmnist.export.c_layers import KERNEL_CALLS, Engine
from fmnist.export.options import Job
from fmnist.export.tflite_graph import Graph, Operator, Tensor
from fmnist.runtime import micro

SUPPORTED = ("QUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED")
HEADER = "fmnist_model.h"
KERNELS = Path(__file__).with_name("c_kernels.c")
SECTION = re.compile(r"^/\* provides: ([\w ]+) \*/\n", re.MULTILINE)  # c_kernels.c's section marks


def check_supported(graph: Graph) -> None:
    """Refuse a graph with an operator the engine lacks, or whose operators are not one chain
    from the uint8 pixels (a QUANTIZE first) to the int8 logits."""
    for op in graph.operators:
        if op.name not in SUPPORTED:
            raise FmnistError(
                f"the model has a {op.name} operator, which the C engine does not support (it supports "
                f"{', '.join(SUPPORTED)}); export --format tflm runs it with TFLite Micro"
            )
    pairs = zip(graph.operators, graph.operators[1:], strict=False)
    chained = all(op.inputs[0] == previous.outputs[0] for previous, op in pairs)
    first, last = graph.operators[0], graph.operators[-1]
    if first.name != "QUANTIZE" or first.inputs[0] != graph.inputs[0] or last.outputs[0] != graph.outputs[0]:
        chained = False
    if not chained:
        raise FmnistError(
            "the C engine runs one chain of operators from a QUANTIZE of the pixels; this model is not one"
        )


def _pooled_as_made(conv: Operator, pool: Operator, graph: Graph) -> bool:
    """Whether a CONV_2D and the MAX_POOL_2D after it run as one (`conv_pool`): the pool's windows
    tile the convolution's output rows from the first, so each pool row needs rows of its own."""
    if conv.name != "CONV_2D" or pool.name != "MAX_POOL_2D":
        return False
    (_, in_h, _, _), (_, out_h, _, _) = (graph.tensors[t].shape for t in (pool.inputs[0], pool.outputs[0]))
    o = pool.options
    return o.strideH == o.filterHeight and c_layers.padding(o.padding, in_h, o.filterHeight, o.strideH, 1, out_h) == 0


def _macs(op: Operator, graph: Graph) -> int:
    shapes = ([np.array(graph.tensors[t].shape) for t in ts if t >= 0] for ts in (op.inputs, op.outputs))
    return macs(op.name, *shapes)


def _steps(graph: Graph) -> list[tuple[int, list[Operator]]]:
    """The operators as the engine runs them, by the number of the first: one at a time, or a
    convolution with the max pool it feeds; no RESHAPE (the same bytes, another shape)."""
    steps, ops, number = [], graph.operators, 0
    while number < len(ops):
        together = number + 1 < len(ops) and _pooled_as_made(ops[number], ops[number + 1], graph)
        if ops[number].name != "RESHAPE":
            steps.append((number, ops[number : number + 1 + together]))
        number += 1 + together
    return steps


def generate(flatbuffer: bytes, metadata: dict) -> tuple[str, str, int]:
    """The engine's C source, its header, and the size of its activation buffer in bytes."""
    graph = tflite_graph.read(flatbuffer)
    check_supported(graph)
    engine = Engine()
    at_start = True  # where the current activation lies in the buffer; the next goes to the other end
    previous = 0
    for number, step in _steps(graph):
        op, last = step[0], step[-1]
        size = graph.tensors[last.outputs[0]].size
        engine.arena = max(engine.arena, size + previous)
        where = "arena" if not at_start or number == 0 else f"arena + ARENA_BYTES - {size}"
        call = (
            c_layers.quantize(graph, op) if number == 0 else KERNEL_CALLS[op.name](engine, f"layer{number}", graph, op)
        )
        source_at = "arena" if at_start else f"arena + ARENA_BYTES - {previous}"
        if windows := c_layers.window_bytes(op, graph):  # between the input and the output, word-aligned
            first = -(-(previous if at_start else size) // 4) * 4
            band = 0
            if last is not op:  # the convolution's rows one pool row needs, after the windows
                _, _, width, channels = graph.tensors[op.outputs[0]].shape
                band = last.options.filterHeight * width * channels
                c_layers.max_pool(engine, f"layer{number + 1}", graph, last)
                call = f"conv_pool(x, y, windows, arena + {first + windows}, &layer{number}, &layer{number + 1});"
            engine.arena = max(engine.arena, first + windows + band + (size if at_start else previous))
            call = f"windows = memory.halves + {first // 2};\n    {call}"
        notes = "\n    ".join(
            f"/* operator {n} {o.name}: {_macs(o, graph)} MACs */" for n, o in enumerate(step, number)
        )
        engine.calls.append(f"    {notes}\n    x = {source_at}; y = {where};\n    {call}")
        at_start, previous = where == "arena", size
    last_at = "arena" if at_start else f"arena + ARENA_BYTES - {previous}"
    output = graph.tensors[graph.outputs[0]]
    c_source = _source(engine, last_at, output, metadata)
    header = _header()
    return c_source, header, engine.arena


def _code(text: str) -> str:
    """C source without its comments."""
    return re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)


def kernels(uses: str) -> str:
    """c_kernels.c's opening comment and the sections that `uses` (the engine's tables and calls)
    needs, directly or through other sections, in the file's order: no unused function."""
    head, *marked = SECTION.split(KERNELS.read_text())
    sections = list(zip(marked[0::2], marked[1::2], strict=True))  # (the names it provides, its text)
    chosen: set[int] = set()
    while grown := {
        i
        for i, (names, _) in enumerate(sections)
        if i not in chosen and any(re.search(rf"\b{name}\b", _code(uses)) for name in names.split())
    }:
        chosen |= grown
        uses += "".join(sections[i][1] for i in grown)
    return head + "".join(text for i, (_, text) in enumerate(sections) if i in chosen)


def _header() -> str:
    names = ", ".join(contract.CLASS_NAMES)
    return f"""/* fmnist's int8 Fashion-MNIST classifier as a self-contained C99 engine (generated by fmnist export).
 * Classes, in order: {names}. */
#ifndef FMNIST_MODEL_H
#define FMNIST_MODEL_H
#include <stdint.h>
#define FMNIST_PIXELS 784 /* 28 x 28 grey values, row by row, 0 (black) to 255 */
#define FMNIST_CLASSES {contract.NUM_CLASSES}
#ifdef __cplusplus
extern "C" {{
#endif
/* Write the int8 logits of one image; return its class (0 to {contract.NUM_CLASSES - 1}). Not reentrant. */
int fmnist_predict(const uint8_t pixels[FMNIST_PIXELS], int8_t logits[FMNIST_CLASSES]);
extern const float fmnist_output_scale; /* logit = fmnist_output_scale * (int8 - fmnist_output_zero_point) */
extern const int32_t fmnist_output_zero_point;
extern const char fmnist_metadata[]; /* fmnist's JSON metadata: contract version, class names, source */
#ifdef __cplusplus
}}
#endif
#endif
"""


def _source(engine: Engine, last: str, output: Tensor, metadata: dict) -> str:
    meta = json.dumps(metadata).replace("\\", "\\\\").replace('"', '\\"')
    tables = "\n".join(engine.tables)
    calls = "\n".join(engine.calls)
    windows = "\n    int16_t *windows;" if "windows" in calls else ""
    return f"""/* Generated by fmnist export --format c: TFLite Micro's int8 reference arithmetic, no library. */
#include <stdint.h>
#include <string.h>

#include "{HEADER}"

{kernels(tables + calls)}
const float fmnist_output_scale = {float(output.scale[0])!r}f;
const int32_t fmnist_output_zero_point = {int(output.zero_point[0])};
const char fmnist_metadata[] = "{meta}";

{tables}

#define ARENA_BYTES {engine.arena}
static union {{
    int32_t word; /* word-aligned */
    int16_t halves[(ARENA_BYTES + 3) / 4 * 2];
}} memory; /* the activations, and the windows a convolution lays out between its input and output */

int fmnist_predict(const uint8_t pixels[FMNIST_PIXELS], int8_t logits[FMNIST_CLASSES]) {{
    int8_t *arena = (int8_t *)memory.halves, *x, *y;{windows}
{calls}
    memcpy(logits, {last}, FMNIST_CLASSES);
    int best = 0;
    for (int i = 1; i < FMNIST_CLASSES; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}}
"""


def to_c(job: Job) -> None:
    """The C engine of the job's TFLite Micro source (its int8 flatbuffer), beside its header."""
    assert job.source is not None  # the registry makes it from the tflm format
    c_source, header, _ = generate(micro.model_bytes(job.source), job.metadata)
    job.target.write_text(c_source)
    job.target.with_name(HEADER).write_text(header)


def describe(path: Path) -> dict:
    """What a manifest records of the engine: flash for its constant tables, RAM for its activations."""
    text = path.read_text()
    sizes = {"int8_t": 1, "int32_t": 4}
    tables = re.findall(r"static const (int8_t|int32_t) \w+\[(\d+)\]", text)
    arena = re.search(r"#define ARENA_BYTES (\d+)", text)
    return {
        "flash_bytes": sum(sizes[kind] * int(n) for kind, n in tables),
        "ram_bytes": int(arena.group(1)) if arena else None,
    }
