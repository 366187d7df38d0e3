"""Training on JAX beside TensorFlow: the same recipe and run folder without TensorFlow, exported
by the TensorFlow export stage; a backend that is missing or cannot be switched to is refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import needs_data

from fmnist.errors import FmnistError
from fmnist.export.exporter import export
from fmnist.train import backend

WITHOUT_TENSORFLOW = """
import importlib.abc, runpy, sys
class NoTensorFlow(importlib.abc.MetaPathFinder):  # as in an install of fmnist[train-jax]
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ImportError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTensorFlow())
sys.argv = ["fmnist", *sys.argv[1:]]
try:
    runpy.run_module("fmnist", run_name="__main__")
finally:
    print("imported:", sorted(m for m in ("tensorflow", "jax", "keras") if m in sys.modules))
"""


def _train_without_tensorflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, "train", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**__import__("os").environ, "KERAS_BACKEND": ""},
    )


@needs_data
@pytest.mark.slow
def test_a_run_trained_on_jax_without_tensorflow_teaches_and_exports_to_every_format(tmp_path):
    result = _train_without_tensorflow(
        "--backend", "jax", "--limit", "1000", "--epochs", "2", "--batch-size", "50", "--erase", "0.5",
        "--ema", "0.9", "--runs-dir", str(tmp_path), "--name", "jax",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "imported: ['jax', 'keras']"
    run = tmp_path / "jax"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["backend"] == "jax" and metrics["machine"]["devices"] == ["cpu:0"]
    assert metrics["strategy"] == "one device" and metrics["replicas"] == 1 and metrics["epochs"] == 2
    assert metrics["config"]["ema"] == 0.9 and metrics["config"]["erase"] == 0.5
    assert metrics["test_accuracy"] >= 0.5  # 54.9 and 60.45 % measured in two environments: two epochs on 900 images
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        "confusion_matrix.png", "predictions.png", "training_curves.png",
    ]  # fmt: skip
    taught = _train_without_tensorflow(
        "--backend", "jax", "--limit", "300", "--epochs", "1", "--teacher", str(run), "--runs-dir", str(tmp_path),
        "--name", "student",
    )  # fmt: skip
    assert taught.returncode == 0, taught.stderr[-3000:]
    assert taught.stdout.strip().splitlines()[-1] == "imported: ['jax', 'keras']"
    student = json.loads((tmp_path / "student" / "metrics.json").read_text())
    assert student["teachers"] == [{"run": str(run), "arch": "edge", "test_accuracy": metrics["test_accuracy"]}]
    manifest = export(run / "model.keras", ["onnx", "onnx-int8", "tflite", "tflite-int8"], run / "export")
    assert sorted(manifest["artifacts"]) == ["onnx", "onnx-int8", "tflite", "tflite-int8"]
    float_onnx = manifest["artifacts"]["onnx"]["verified"]
    assert float_onnx["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-4)  # the JAX model, converted


def test_mirrored_is_refused_on_jax_before_training(tmp_path):
    result = _train_without_tensorflow(
        "--backend", "jax", "--strategy", "mirrored", "--limit", "100", "--epochs", "1", "--runs-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --strategy mirrored is TensorFlow's (tf.distribute); train with --backend tensorflow"
    )


def test_a_backend_not_installed_is_named_with_the_extra_that_installs_it(monkeypatch):
    monkeypatch.setattr(backend, "_installed", lambda package: package not in ("jax", "tensorflow"))
    with pytest.raises(FmnistError) as caught:
        backend.choose("jax")
    assert str(caught.value) == "training on jax needs jax, not installed here; pip install 'fmnist[train-jax]'"
    monkeypatch.setattr(backend, "_installed", lambda package: False)
    with pytest.raises(FmnistError) as caught:
        backend.choose("tensorflow")
    assert str(caught.value) == (
        "training on tensorflow needs tensorflow and keras, not installed here; pip install 'fmnist[train]'"
    )


def test_auto_is_keras_backend_else_tensorflow_when_installed_else_jax(monkeypatch):
    import keras  # noqa: F401 -- this test process runs Keras on TensorFlow

    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert backend.choose("auto") == "tensorflow"
    monkeypatch.delenv("KERAS_BACKEND")
    assert backend.choose("auto") == "tensorflow"
    with pytest.raises(FmnistError) as caught:
        backend.choose("jax")
    assert str(caught.value) == "Keras already runs on tensorflow in this process; it cannot switch to jax"
    with pytest.raises(FmnistError, match="^backend 'torch' is not one fmnist trains on; choose tensorflow or jax$"):
        backend.choose("torch")
