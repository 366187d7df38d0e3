"""The `fmnist` command: fast start, clear errors."""

from __future__ import annotations

import subprocess
import sys

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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
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
