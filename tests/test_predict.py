"""`fmnist predict` and `fmnist evaluate` from the command line, with and without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_data, run_fmnist
from photos import write_photo
from test_runtime import _bad_files

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf2onnx")


@pytest.fixture(scope="module")
def photos(real_data, tmp_path_factory):
    """Three photos of test images 0..2 (Ankle boot, Pullover, Trouser) in a folder."""
    folder = tmp_path_factory.mktemp("photos")
    kinds = ["rgb.jpg", "rgba-transparent.png", "rgb.webp"]
    return [write_photo(real_data.x_test[i], kind, folder, f"test{i}") for i, kind in enumerate(kinds)]


def api_answers(pixels, model=None, k=3) -> list[list[dict]]:
    """What the Python API answers for each image: the k best classes with their probabilities,
    rounded as the command line prints them in JSON."""
    from fmnist.runtime import Classifier

    classifier = Classifier.load(model)
    indices, probs = classifier.top_k(pixels, k)
    return [
        [
            {"class": classifier.class_names[c], "label": c, "probability": round(q, 6)}
            for c, q in zip(best, p, strict=True)
        ]
        for best, p in zip(indices.tolist(), probs.tolist(), strict=True)
    ]


def test_predict_prints_a_table(photos):
    from fmnist.runtime import load_image

    result = run_fmnist("predict", *map(str, photos), "--top-k", "2", env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "model.int8.tflite (ai-edge-litert, int8)" in lines[0]
    for photo, label in zip(photos, ("Ankle boot", "Pullover", "Trouser"), strict=True):
        (best, second), *_ = api_answers(load_image(photo), k=2)
        row = next(line for line in lines if photo.name in line).split("│")
        assert [cell.strip() for cell in row[2:5]] == [
            label,
            f"{best['probability']:.1%}",
            f"{second['class']} {second['probability']:.1%}",
        ]


def test_the_command_line_answers_what_the_python_api_answers(photos, real_data, tmp_path):
    from fmnist.runtime import load_image

    np.save(tmp_path / "five.npy", real_data.x_test[:5])
    for model in (None, "onnx"):
        result = run_fmnist(
            "predict", "--json", *map(str, photos), str(tmp_path / "five.npy"), *["-m", model] * bool(model)
        )
        assert result.returncode == 0, result.stderr
        answers = [r["top_k"] for r in map(json.loads, result.stdout.splitlines())]
        expected = [api_answers(load_image(p), model)[0] for p in photos] + api_answers(real_data.x_test[:5], model)
        assert answers == expected


def test_predict_reports_each_bad_file_and_still_predicts_the_good_ones(photos, tmp_path):
    expected = _bad_files(tmp_path / "bad", photos[0])
    result = run_fmnist("predict", "--json", str(photos[1]), str(tmp_path / "bad"), str(photos[2]), "--model", "onnx")
    assert result.returncode == 2
    records = [json.loads(line) for line in result.stdout.splitlines()]
    classified = [r for r in records if "class" in r]
    assert [(Path(r["file"]).name, r["class"]) for r in classified] == [
        (photos[1].name, "Pullover"),
        (photos[2].name, "Trouser"),
    ]
    assert len(classified[0]["top_k"]) == 3 and classified[0]["top_k"][0]["class"] == "Pullover"
    assert all(r["model"] == "model.onnx" for r in records)
    assert all(r["low_confidence"] == (r["probability"] < 0.5) for r in classified)
    unread = {Path(r["file"]).name: r["error"] for r in records if "error" in r}
    assert len(unread) == len(expected) - 1 and "decompression bomb" in unread["bomb.png"]
    errors = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert errors[-1] == f"{len(expected) - 1} of {len(expected) + 1} inputs could not be read"
    for name, words in expected.items():
        if name == "folder.png":  # inside a walked folder: an empty subfolder is not an input
            continue
        assert sum(line.startswith(f"error: {tmp_path / 'bad' / name}: ") and words in line for line in errors) == 1, (
            name
        )


def test_a_reader_that_stops_early_ends_predict_quietly(photos):
    process = subprocess.Popen(
        [sys.executable, "-m", "fmnist", "predict", "--json", *map(str, photos * 200)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert json.loads(process.stdout.readline())["class"] == "Ankle boot"
    process.stdout.close()  # what `| head -1` does
    assert process.wait(timeout=120) == 0 and process.stderr.read() == ""


def test_low_confidence_answers_and_skipped_files_are_said(tmp_path):
    from rich.console import Console

    from fmnist.cli import common, views

    console = Console(record=True, width=120)
    ranked = [{"class": "Shirt", "probability": 0.41}, {"class": "Coat", "probability": 0.3}]
    original, common.out = common.out, console
    try:
        views.out = console
        views.predictions([("a.png", {**ranked[0], "low_confidence": True, "top_k": ranked})], "model")
    finally:
        views.out = common.out = original
    text = console.export_text()
    assert "Shirt?" in text and "?: a guess, the best class has less than 50 % probability" in text
    (tmp_path / "a.heic").write_bytes(b"x")
    (tmp_path / "b.heic").write_bytes(b"x")
    result = run_fmnist("predict", str(tmp_path))
    assert result.returncode == 2  # nothing readable in the folder
    assert "skipped in folders: 2 .heic (types fmnist does not read) (--verbose names them)" in result.stderr
    result = run_fmnist("predict", str(tmp_path), "--verbose")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-4:-1] == [
        "skipped in folders: 2 .heic (types fmnist does not read)",
        f"skipped {tmp_path / 'a.heic'}: unsupported type",
        f"skipped {tmp_path / 'b.heic'}: unsupported type",
    ]


def test_predict_reads_idx_and_npy_arrays(real_data, tmp_path):
    np.save(tmp_path / "five.npy", real_data.x_test[:5])
    result = run_fmnist("predict", str(tmp_path / "five.npy"), "--json", "-k", "1")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == [f"{tmp_path / 'five.npy'}[{i}]" for i in range(5)]
    assert [r["top_k"] for r in records] == api_answers(real_data.x_test[:5], k=1)


def test_bad_model_or_no_inputs_is_one_line(photos, tmp_path):
    result = run_fmnist("predict", str(photos[0]), "--model", str(tmp_path / "nope.onnx"))
    assert (
        result.returncode == 2
        and result.stderr.startswith("error: ")
        and "nope.onnx: no such file or folder; name a run folder" in result.stderr
    )
    result = run_fmnist("predict", str(tmp_path / "nothing.png"))
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr


@needs_data
def test_evaluate_writes_json_and_plot(tmp_path):
    result = run_fmnist("evaluate", "onnx-int8", "--json", str(tmp_path / "e.json"), "--plot", str(tmp_path / "cm.png"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["images"] == 10_000 and report["accuracy"] == report["manifest_accuracy"]
    assert len(report["predicted"]) == 10_000 and sum(map(sum, report["confusion_matrix"])) == 10_000
    for name, scores in report["per_class"].items():
        assert scores["recall"] == pytest.approx(report["per_class_accuracy"][name])
        assert min(scores["precision"], scores["recall"]) <= scores["f1"] <= max(scores["precision"], scores["recall"])
    confused = report["most_confused"]
    assert len(confused) == 5 and confused == sorted(confused, key=lambda c: -c["images"])
    assert confused[0]["true"] != confused[0]["predicted"] and "most confused: " in result.stdout
    assert f"{report['accuracy']:.2%}" in result.stdout
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


@needs_data
def test_evaluate_table_fits_an_80_column_terminal():
    result = run_fmnist("evaluate", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith((" class", " 0 T-shirt", " 9 Ankle"))]
    assert len(rows) == 3 and all(len(line) <= 80 for line in rows), rows
    assert "…" not in result.stdout  # no figure or heading cut short


@needs_data
@pytest.mark.parametrize(
    "command",
    [
        "import fmnist.runtime",
        "from fmnist.cli import app; app(['predict', PHOTO, '--model', 'onnx'])",
        "from fmnist.cli import app; app(['evaluate', 'tflite-int8'])",
    ],
)
def test_runtime_path_never_imports_tensorflow(photos, command):
    code = (
        f"import sys\nPHOTO = {str(photos[0])!r}\n"
        f"try:\n    {command}\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def readme_block(heading: str) -> list[str]:
    """The command lines of the first bash block under a README heading."""
    text = (ROOT / "README.md").read_text()
    block = text.split(f"## {heading}\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory):
    """The README's first five minutes, line by line, in a fresh home: the venv it made."""
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    script = "set -euo pipefail\n" + "\n".join(readme_block("First five minutes"))
    result = subprocess.run(
        ["bash", "-c", script], check=False, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    manifest = json.loads((ROOT / "fmnist" / "runtime" / "default_model" / "manifest.json").read_text())
    accuracy = manifest["artifacts"]["tflite-int8"]["verified"]["accuracy"]
    assert "Shirt" in result.stdout  # the example photo
    assert f": {accuracy:.2%} on 10,000 test images (manifest: {accuracy:.2%})" in result.stdout  # evaluate
    bench = json.loads((home / "fmnist-bench" / "bench.json").read_text())
    assert {row["artifact"] for row in bench["rows"]} == {"default/tflite-int8", "default/c"}  # c: the machine's cc
    return home / ".venvs" / "fmnist"


@needs_data
@pytest.mark.slow
def test_runtime_only_install_predicts_and_benches(runtime_venv, photos, tmp_path):
    """The README's `pip install ".[tflite]"`: numpy, Pillow, LiteRT, no TensorFlow, and no
    onnxruntime: predict runs the int8 TFLite model, bench measures what LiteRT and the machine's C
    compiler can run."""
    python, fmnist = runtime_venv / "bin" / "python", runtime_venv / "bin" / "fmnist"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    for module in ("tensorflow", "keras", "onnxruntime"):
        found = subprocess.run([python, "-c", f"import {module}"], check=False, capture_output=True, cwd=tmp_path)
        assert found.returncode != 0, f"{module} was installed"

    def fmnist_says(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([fmnist, *args], check=False, capture_output=True, text=True, cwd=tmp_path, env=env)

    result = fmnist_says("predict", "--json", str(photos[0]))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["class"] == "Ankle boot"
    result = fmnist_says("predict", "--model", "onnx", str(photos[0]))
    assert result.returncode == 2 and "pip install 'fmnist[onnx]'" in result.stderr

    quick = ("--quick", "--cold-starts", "0", "--iterations", "20", "--images", "100")
    result = fmnist_says("bench", *quick, "--out", "shipped")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "shipped" / "bench.json").read_text())
    assert {row["artifact"] for row in report["rows"]} == {"default/tflite-int8", "default/c"}  # c: the machine's cc
    assert "default/tflm skipped: TFLite Micro is not installed (pip install 'fmnist[mcu]')" in report["notes"]
    skipped = "skipped: onnxruntime is not installed (pip install 'fmnist[onnx]')"
    assert [n for n in report["notes"] if "onnxruntime" in n] == [
        f"default/onnx {skipped}",
        f"default/onnx-int8 {skipped}",
    ]
    assert f"note: default/onnx {skipped}" in result.stderr
    result = fmnist_says("bench", "tflite-int8", *quick, "--out", "named")  # a format name, as in predict
    assert result.returncode == 0, result.stderr
    (tmp_path / "model.keras").write_bytes(b"not read")
    result = fmnist_says("bench", "model.keras", *quick, "--out", "keras")
    assert result.returncode == 2 and not (tmp_path / "keras").exists()
    assert result.stderr.strip() == (
        "error: nothing to measure: files: Keras rows skipped: "
        "TensorFlow is not installed (pip install 'fmnist[train]')"
    )
