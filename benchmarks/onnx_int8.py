"""What int8 ONNX graph onnxruntime runs fastest: the quantiser's options, timed side by side.

Usage: python benchmarks/onnx_int8.py EXPORT_DIR [--before DIR] [--out FILE.json]

From the lean float model of an export folder, builds int8 variants with onnxruntime's
quantiser (activations uint8 or int8, per-channel or per-tensor weights, QDQ or QOperator,
the first convolution left in float) calibrated as `fmnist export` calibrates, with and
without fmnist's rewrite rules, and times them all with the float model, interleaved in
one process: batch-1 latency and batch-256 throughput on one thread. `--before` adds the
model.onnx and model.int8.onnx of an export made before the lean graphs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxscript.rewriter import rewrite

from fmnist import data, machine
from fmnist.export.convert_onnx import CalibrationReader
from fmnist.export.exporter import calibration_images
from fmnist.export.onnx_rules import RULES

VARIANTS = {  # name: (activations, per-channel, format, first convolution in float, rewrite rules)
    "U8S8 per-channel QDQ + rules (exported)": (QuantType.QUInt8, True, QuantFormat.QDQ, False, True),
    "U8S8 per-channel QDQ": (QuantType.QUInt8, True, QuantFormat.QDQ, False, False),
    "S8S8 per-channel QDQ": (QuantType.QInt8, True, QuantFormat.QDQ, False, False),
    "U8S8 per-tensor QDQ": (QuantType.QUInt8, False, QuantFormat.QDQ, False, False),
    "U8S8 per-channel QOperator": (QuantType.QUInt8, True, QuantFormat.QOperator, False, False),
    "U8S8 per-channel QDQ, first conv float": (QuantType.QUInt8, True, QuantFormat.QDQ, True, False),
}


def build(float_path: Path, folder: Path, calibration: np.ndarray) -> dict[str, Path]:
    prepared = folder / "prepared.onnx"
    quant_pre_process(str(float_path), str(prepared))
    first_conv = next(n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv")
    paths = {}
    for i, (name, (activations, per_channel, form, float_first, rules)) in enumerate(VARIANTS.items()):
        path = folder / f"variant{i}.onnx"
        quantize_static(
            str(prepared),
            str(path),
            CalibrationReader(calibration),
            quant_format=form,
            per_channel=per_channel,
            activation_type=activations,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=[first_conv] if float_first else [],
        )
        if rules:
            onnx.save(rewrite(onnx.load(str(path)), pattern_rewrite_rules=RULES), str(path))
        paths[name] = path
    return paths


def timer(path: Path) -> tuple:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, session.get_inputs()[0].name


def timed(session: ort.InferenceSession, name: str, batches: list[np.ndarray]) -> float:
    """Median µs of one call over `batches`, after a few untimed ones."""
    for x in batches[:10]:
        session.run(None, {name: x})
    times = []
    for x in batches:
        started = time.perf_counter_ns()
        session.run(None, {name: x})
        times.append(time.perf_counter_ns() - started)
    return float(np.median(times)) / 1000


def accuracy_of(session: ort.InferenceSession, name: str, pixels: np.ndarray, labels: np.ndarray) -> float:
    logits = np.concatenate([session.run(None, {name: pixels[k : k + 1000]})[0] for k in range(0, len(pixels), 1000)])
    return float((logits.argmax(1) == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--before", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    dataset = data.load()
    pixels = dataset.x_test[..., None]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"float (lean)": args.export / "model.onnx"}
        if args.before:
            paths |= {"float (before)": args.before / "model.onnx", "int8 (before)": args.before / "model.int8.onnx"}
        paths |= build(args.export / "model.onnx", Path(tmp), calibration_images(dataset, 512))
        sessions = {name: timer(path) for name, path in paths.items()}
        accuracy = {
            name: accuracy_of(session, input_name, pixels, dataset.y_test)
            for name, (session, input_name) in sessions.items()
        }
        sizes = {1: [pixels[k : k + 1] for k in range(1000)], 256: [pixels[k : k + 256] for k in range(0, 9984, 256)]}
        best: dict[str, dict[int, float]] = {name: {1: np.inf, 256: np.inf} for name in paths}
        for _ in range(args.rounds):  # interleaved: a neighbour's load reaches every variant alike
            for name, (session, input_name) in sessions.items():
                for batch, batches in sizes.items():
                    best[name][batch] = min(best[name][batch], timed(session, input_name, batches))
    reference = best["float (lean)"]
    rows = [
        {
            "variant": name,
            "accuracy": accuracy[name],
            "batch1_us": round(best[name][1], 1),
            "batch1_vs_float": round(best[name][1] / reference[1], 2),
            "batch256_images_per_s": round(256e6 / best[name][256]),
            "batch256_vs_float": round(reference[256] / best[name][256], 2),
        }
        for name in paths
    ]
    report = {"machine": machine.describe(), "export": str(args.export), "rounds": args.rounds, "rows": rows}
    print(f"{report['machine']['cpu']}: median µs per call, the best of {args.rounds} interleaved rounds, one thread")
    for r in rows:
        print(
            f"{r['variant']:42s} {r['accuracy']:7.2%}  batch 1 {r['batch1_us']:6.1f} µs "
            f"({r['batch1_vs_float']:.2f}× float)  batch 256 {r['batch256_images_per_s']:7,d}/s "
            f"({r['batch256_vs_float']:.2f}× float)"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
