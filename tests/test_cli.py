"""The `fmnist` command: fast start, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import needs_data, run_fmnist

HEAVY = ("tensorflow", "keras", "tf2onnx")


def modules_after(*args: str) -> list[str]:
    """Heavy top-level modules imported by running `fmnist ARGS` in a fresh interpreter."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from fmnist.cli import app\n"
        f"result = CliRunner().invoke(app, {list(args)!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_help_imports_no_tensorflow():
    assert modules_after("--help") == []
    assert modules_after("train", "--help") == []


@needs_data
def test_data_command_imports_no_tensorflow():
    assert modules_after("data") == []


def test_bad_options_exit_2_without_traceback(tmp_path):
    result = run_fmnist("train", "--arch", "resnet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "edge" in result.stderr  # lists the valid choices
    result = run_fmnist("train", "--data-dir", str(tmp_path / "none"), "--runs-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: data folder {tmp_path / 'none'} does not exist; run `fmnist data download "
        f"--data-dir {tmp_path / 'none'}` or copy the four IDX files there"
    ]


@pytest.mark.parametrize(
    "line, noise",
    [
        ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
        ("I0000 00:00:1796009175.135783    6739 port.cc:153] oneDNN custom operations are on.", True),
        ("E0000 00:00:1796009177.557359    6739 cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
        ("fully_quantize: 0, inference_type: 6, input_inference_type: UINT8, output_inference_type: INT8", True),
        ("E0000 00:00:1796009177.557359    6739 some_kernel.cc:12] Out of memory while allocating", False),
        ("W0000 00:00:1796009177.557359    6739 loader.cc:99] Op type not registered 'Foo'", False),
        ("error: runs/q/model.keras: not a loadable Keras model", False),
    ],
)
def test_only_known_start_up_chatter_is_dropped(line, noise):
    from fmnist import quiet

    assert quiet.is_noise(line) is noise


@pytest.mark.slow
@needs_data
def test_train_and_export_print_only_their_own_lines(tmp_path):
    result = run_fmnist("train", "--limit", "300", "--epochs", "1", "--runs-dir", str(tmp_path), "--name", "q")
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stderr.splitlines()] == ["epoch"] * 2  # the record, the bar
    export = ["export", str(tmp_path / "q"), "--format", "tflite-int8", "--calibration-size", "100"]
    result = run_fmnist(*export)
    assert result.returncode == 0, result.stderr
    stages = [line.rsplit("  ", 1) for line in result.stderr.splitlines()]
    assert [stage for stage, _ in stages] == [
        "✓ reference: Keras float model on the test set",
        "✓ tflite-int8: calibrate and convert to full-integer (100 calibration images)",
        "✓ tflite-int8: verify on 10,000 test images",
    ]
    assert all(seconds.endswith(" s") and float(seconds[:-2]) >= 0 for _, seconds in stages)
    assert float(stages[1][1][:-2]) > 0.1  # a real duration, not 0:00:00
    verbose = run_fmnist(*export, "--verbose")
    assert verbose.returncode == 0 and "oneDNN custom operations" in verbose.stderr


@pytest.mark.parametrize("command", ["train", "export", "predict", "evaluate", "bench", "check", "serve", "data"])
def test_help_fits_an_80_column_terminal(command):
    result = run_fmnist(command, "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0 and "Usage: fmnist" in result.stdout
    assert "…" not in result.stdout, [line for line in result.stdout.splitlines() if "…" in line]
