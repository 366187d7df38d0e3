"""`fmnist bench --quick` end to end on real artifacts: every output, sane values, no TensorFlow."""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import run_fmnist

from fmnist import data
from fmnist.runtime import Classifier

ROOT = Path(__file__).resolve().parents[1]

OUTPUTS = ["accuracy_vs_latency.png", "accuracy_vs_size.png", "bench.csv", "bench.json", "bench.md", "latency.png"]
ROW_KEYS = {
    "artifact",
    "format",
    "precision",
    "threads",
    "bytes",
    "accuracy",
    "agreement",
    "latency_us",
    "throughput",
    "cold_start_ms",
    "peak_rss_mb",
}


def _check_rows(rows: list[dict], batches: list[str]) -> None:
    for row in rows:
        assert set(row) >= ROW_KEYS, row["artifact"]
        lat = row["latency_us"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], row["artifact"]
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["agreement"] <= 1
        assert list(row["throughput"]) == batches and all(v > 0 for v in row["throughput"].values())
        if "1" in batches:  # one image per call is the latency's median call
            assert row["throughput"]["1"] == round(1e6 / lat["p50"], 1), row["artifact"]
        assert row["bytes"] > 0


@pytest.mark.slow
def test_quick_bench_of_a_run_writes_every_output(exported, tiny_run, tmp_path):
    run_dir, metrics = tiny_run
    run = tmp_path / "tiny"  # a run folder with its export, as `fmnist export` leaves it
    shutil.copytree(run_dir, run)
    shutil.copytree(exported[0], run / "export")
    out = tmp_path / "out"
    result = run_fmnist("bench", str(run), "--quick", "--out", str(out), env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    report = json.loads((out / "bench.json").read_text())
    assert {"cpu", "cores", "os", "python", "packages"} <= set(report["machine"])
    assert {"onnxruntime", "ai-edge-litert", "numpy"} <= set(report["machine"]["packages"])
    assert [(row["artifact"], row["call"]) for row in report["rows"]] == [
        ("tiny/keras-predict", "model.predict"),
        ("tiny/keras-call", "model(x)"),
        *(
            (f"tiny/{f}", call)
            for f in ("onnx", "onnx-int8", "tflite", "tflite-int8")
            for call in ("Classifier", "runtime")
        ),
    ]
    _check_rows(report["rows"], ["1", "32"])
    bare = {row["artifact"]: row for row in report["rows"] if row["call"] == "runtime"}
    assert all(row["cold_start_ms"] is None for row in bare.values())  # the same process as its Classifier row
    rows = {row["artifact"]: row for row in report["rows"] if row["call"] != "runtime"}
    keras, tflite_int8 = rows["tiny/keras-predict"], rows["tiny/tflite-int8"]
    assert keras["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-4)
    for fmt, entry in exported[1]["artifacts"].items():  # the manifest's figures, verified on the same 10,000 images
        assert rows[f"tiny/{fmt}"]["accuracy"] == entry["verified"]["accuracy"], fmt
    assert rows["tiny/onnx"]["agreement"] >= 0.999 and rows["tiny/onnx"]["reference"] == "keras-predict"
    assert tflite_int8["bytes"] < rows["tiny/tflite"]["bytes"] / 3
    assert tflite_int8["latency_us"]["p50"] * 100 < keras["latency_us"]["p50"]  # the seeds' way is slow
    assert all(row["cold_start_ms"] > 0 and row["peak_rss_mb"] > 10 for row in rows.values())
    assert keras["peak_rss_mb"] > 2 * tflite_int8["peak_rss_mb"]  # TensorFlow's weight
    assert tflite_int8["gmacs"] == pytest.approx(
        metrics["macs"] * max(tflite_int8["throughput"].values()) / 1e9, rel=0.01
    )
    table = list(csv.DictReader((out / "bench.csv").open()))
    assert [(r["artifact"], r["call"]) for r in table] == [(r["artifact"], r["call"]) for r in report["rows"]]
    markdown = (out / "bench.md").read_text()
    assert "| tiny/tflite-int8 | Classifier | 1 |" in markdown and "| tiny/tflite-int8 | runtime | 1 |" in markdown
    assert report["machine"]["cpu"] in markdown
    assert "tiny/tflite-int8" in result.stdout and "img/s @32" in result.stdout


def test_bench_of_the_shipped_model_never_imports_tensorflow(tmp_path):
    """With no runs/ here it measures the shipped model, in-process, TensorFlow-free; the
    accuracy on a subset and every timing marked as emulated when asked."""
    code = (
        "import sys\nfrom fmnist.cli import app\n"
        "try:\n    app(['bench', '--quick', '--iterations', '20', '--cold-starts', '1',"
        " '--threads', '1,2', '--batch', '1,8', '--images', '300',"
        " '--emulated', 'qemu-aarch64 test', '--out', 'out'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "[]"
    report = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert [(r["artifact"], r["call"], r["threads"]) for r in report["rows"]] == [
        (f"default/{f}", call, t)
        for f in ("onnx", "onnx-int8", "tflite-int8", "tflm", "c")
        for call, t in (("Classifier", 1), ("runtime", 1), ("Classifier", 2))
        if t == 1 or f not in ("tflm", "c")  # the microcontroller engines run on one thread
    ]
    _check_rows(report["rows"], ["1", "8"])
    assert all(r["reference"] == "onnx" for r in report["rows"])
    assert report["settings"]["images"] == 300
    x, y = data.load_test()
    truth = Classifier.load("onnx").predict(x[:300])
    for row in report["rows"]:  # each one counted again here, on the same 300 images
        predicted = Classifier.load(row["format"]).predict(x[:300])
        assert row["accuracy"] == (predicted == y[:300]).mean() and row["agreement"] == (predicted == truth).mean()
    assert report["machine"]["emulated"] == "qemu-aarch64 test"
    warning = "EMULATED (qemu-aarch64 test): timings and memory are the emulator's"
    assert warning in result.stdout and "p50 µs (emulated)" in result.stdout and "img/s @8 (emulated)" in result.stdout
    markdown = (tmp_path / "out" / "bench.md").read_text()
    assert warning in markdown and "| cold ms (emulated) | RSS MB (emulated) |" in markdown
    assert "Accuracy on the first 300 of the 10,000 test images." in markdown
    assert {r["emulated"] for r in csv.DictReader((tmp_path / "out" / "bench.csv").open())} == {"qemu-aarch64 test"}


def test_cold_start_refuses_a_child_of_another_architecture(tmp_path, monkeypatch):
    """Under qemu-user a child process runs the host's binary: a cold start measured there would
    time the wrong machine, so it is refused; so is a child that fails or cannot start."""
    from fmnist import folders
    from fmnist.bench import cold_start
    from fmnist.errors import FmnistError

    host = tmp_path / "python"
    host.write_text("#!/bin/sh\necho machine sparc64\necho peak_kb 1000\n")
    host.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(host))
    with pytest.raises(FmnistError, match=f"ran as sparc64, not {platform.machine()} .* pass --cold-starts 0"):
        cold_start.measure("runtime", folders.SHIPPED / "model.int8.tflite", 1, 1)
    host.write_text("#!/bin/sh\necho 'ImportError: no runtime' >&2\nexit 1\n")
    with pytest.raises(FmnistError, match=r"cold start of model.int8.tflite failed \(1\): ImportError: no runtime"):
        cold_start.measure("runtime", folders.SHIPPED / "model.int8.tflite", 1, 1)
    host.write_bytes(b"\x7fELF not for this machine")
    with pytest.raises(FmnistError, match="cannot start .*python"):
        cold_start.measure("runtime", folders.SHIPPED / "model.int8.tflite", 1, 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "--threads '0': expected positive whole numbers"),
        (["--batch", "a,b"], "--batch 'a,b': expected positive whole numbers"),
        (["nowhere"], "nowhere: no such file or folder"),
    ],
)
def test_bad_bench_arguments_are_one_line(tmp_path, args, message):
    result = run_fmnist("bench", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines


@pytest.mark.slow
def test_the_frontier_script_trains_exports_measures_and_marks_the_front(tmp_path):
    """benchmarks/frontier.sh on a tiny setting: two variants, one epoch on 300 images."""
    env = {
        **os.environ,
        "FRONTIER_VARIANTS": "edge edge-gap",
        "FRONTIER_RUNS": str(tmp_path / "runs"),
        "FRONTIER_OUT": str(tmp_path / "out"),
        "FRONTIER_EXPORT_ARGS": "--max-accuracy-drop 1",  # a one-epoch model's int8 gap is noise
    }
    script = ROOT / "benchmarks" / "frontier.sh"
    result = subprocess.run(
        ["bash", str(script), "--limit", "300", "--epochs", "1"],
        check=False, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    frontier = json.loads((tmp_path / "out" / "frontier.json").read_text())
    rows = {row["model"]: row for row in frontier["rows"]}
    assert set(rows) == {"default", "edge", "edge-gap"}
    assert rows["edge-gap"]["params"] == 43_610 and rows["edge"]["macs"] == 1_950_592
    assert all(row["p50_us"] > 0 for row in rows.values())
    bench = json.loads((tmp_path / "out" / "bench" / "bench.json").read_text())
    measured = {r["artifact"].split("/")[0]: r["accuracy"] for r in bench["rows"] if r["call"] == "Classifier"}
    for model, folder in (("default", ROOT / "fmnist/runtime/default_model"), ("edge", tmp_path / "runs/edge/export")):
        manifest = json.loads((folder / "manifest.json").read_text())  # what export verified on the same images
        verified = manifest["artifacts"]["tflite-int8"]["verified"]["accuracy"]
        assert rows[model]["int8_accuracy"] == verified == measured[model], model
    fastest = min(rows.values(), key=lambda r: r["p50_us"])
    best = max(rows.values(), key=lambda r: r["int8_accuracy"])
    assert fastest["pareto"] and best["pareto"]  # the ends of the front
    assert (tmp_path / "out" / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert "| default | edge-n8 |" in (tmp_path / "out" / "frontier.md").read_text()  # the shipped arch


@pytest.mark.parametrize(
    "mode, deltas", [([], ["–", "+1.00 pp", "-2.00 pp"]), (["--from-first"], ["–", "+1.00 pp", "-1.00 pp"])]
)
def test_the_ablation_measures_each_change_against_the_row_it_changes(tmp_path, mode, deltas):
    runs = []
    for name, int8 in (("base", 0.92), ("longer", 0.93), ("taught", 0.91)):
        run = tmp_path / name
        (run / "export").mkdir(parents=True)
        metrics = {"arch": "edge-n8", "seed": 1, "epochs": 60, "train_seconds": 900, "val_accuracy": 0.93,
                   "test_accuracy": int8, "command": f"fmnist train --name {name}",
                   "machine": {"cpu": "AMD EPYC", "cores": 2}}  # fmt: skip
        (run / "metrics.json").write_text(json.dumps(metrics))
        verified = {"artifacts": {"tflite-int8": {"verified": {"accuracy": int8}}}}
        (run / "export" / "manifest.json").write_text(json.dumps(verified))
        runs.append(f"{name}={run}")
    script = ROOT / "benchmarks" / "ablation.py"
    result = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "out"), *mode, *runs],
                            check=True, capture_output=True, text=True)  # fmt: skip
    rows = [
        line.split(" | ") for line in result.stdout.splitlines() if line.startswith(("| base", "| longer", "| taught"))
    ]
    assert [row[-1].rstrip(" |") for row in rows] == deltas
    assert (tmp_path / "out" / "ablation.md").read_text() == result.stdout


def test_the_pareto_front_keeps_what_nothing_beats():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from frontier import pareto

    rows = [
        {"p50_us": 20.0, "int8_accuracy": 0.92},
        {"p50_us": 25.0, "int8_accuracy": 0.93},
        {"p50_us": 30.0, "int8_accuracy": 0.925},  # slower and less accurate than the one above
        {"p50_us": 22.0, "int8_accuracy": 0.92},  # as accurate as the first, and slower
    ]
    assert [(r["p50_us"], r["pareto"]) for r in pareto(rows)] == [
        (20.0, True),
        (22.0, False),
        (25.0, True),
        (30.0, False),
    ]


def test_the_profile_has_one_row_per_operator_adding_up_to_the_run(exported, tiny_run, real_data, tmp_path):
    from test_graphs import onnx_ops, tflite_ops

    from fmnist.bench import profile

    out, _ = exported
    pixels = real_data.x_test[:1000, ..., None]
    for file in ("model.onnx", "model.int8.onnx"):
        found = profile.profile(out / file, pixels)
        assert len(found["ops"]) == sum(onnx_ops(out / file, tmp_path).values())  # every node onnxruntime runs
        total = sum(op["us"] for op in found["ops"])
        assert 0.8 * found["run_us"] <= total <= found["run_us"], file
        assert sum(op["share"] for op in found["ops"]) == pytest.approx(1)
    for file in ("model.tflite", "model.int8.tflite"):
        found = profile.profile(out / file, pixels)
        assert Counter(op["op"] for op in found["ops"]) == tflite_ops(out / file)
        assert sum(op["macs"] for op in found["ops"]) == tiny_run[1]["macs"] and not found["timed"]


@pytest.mark.slow
def test_bench_profile_writes_tables_json_and_plot(exported, tmp_path):
    result = run_fmnist(
        "bench", str(exported[0]), "--quick", "--no-keras", "--cold-starts", "0", "--profile", "--out", str(tmp_path),
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    profiles = json.loads((tmp_path / "profile.json").read_text())["profile"]
    assert set(profiles) == {f"{exported[0].name}/{f}" for f in ("onnx", "onnx-int8", "tflite", "tflite-int8")}
    assert "LiteRT's Python API has no operator profiler" in result.stdout and "QLinearConv" in result.stdout
    assert "### " in (tmp_path / "bench.md").read_text() and (tmp_path / "profile.png").read_bytes()[:4] == b"\x89PNG"
