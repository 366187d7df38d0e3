"""Every command that runs a model takes the same things (a run folder, an export folder, one artifact
file, a format of the shipped model) and refuses anything else with the same sentence."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from fmnist import folders
from fmnist.cli import app
from fmnist.errors import FmnistError
from fmnist.runtime import Classifier

KINDS = "name a run folder, an export folder, a .onnx, .tflite, .cc or .c file, or a format of the shipped model"
SHIPPED = "(onnx, onnx-int8, tflite-int8, tflm, c)"
PHOTO = "examples/shirt.jpg"


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """What a user may type for a model, each naming a copy of the shipped one; and what is refused."""
    root = tmp_path_factory.mktemp("kinds")
    shutil.copytree(folders.SHIPPED, root / "run" / folders.EXPORT)
    shutil.copytree(folders.SHIPPED, root / "export")
    (root / "empty").mkdir()
    (root / "notes.txt").write_text("not a model")
    accepted = {
        "run folder": (root / "run", root / "run" / "export" / "model.int8.tflite"),
        "export folder": (root / "export", root / "export" / "model.int8.tflite"),
        "artifact file": (root / "export" / "model.onnx", root / "export" / "model.onnx"),
        "shipped format": ("onnx-int8", folders.SHIPPED / "model.int8.onnx"),
    }
    refused = {
        "missing": (root / "missing", f"{root / 'missing'}: no such file or folder; {KINDS} {SHIPPED}"),
        "no model in it": (root / "empty", f"{root / 'empty'}: no model file in this folder; {KINDS} {SHIPPED}"),
        "other file": (root / "notes.txt", f"{root / 'notes.txt'}: not a model file; {KINDS} {SHIPPED}"),
    }  # fmt: skip
    return root, accepted, refused


def serve_loads(monkeypatch):
    """`fmnist serve` up to the point where it would listen: the model it loaded."""
    import signal

    import uvicorn

    loaded = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: loaded.setdefault("app", app))
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    return loaded


COMMANDS = {
    "predict": lambda model, out: ["predict", PHOTO, "--model", model, "--json"],
    "evaluate": lambda model, out: ["evaluate", model, "--json", out / "eval.json"],
    "check": lambda model, out: ["check", model],
    "bench": lambda model, out: ["bench", model, "--quick", "--batch", "1", "--iterations", "10", "--warmup", "1",
                                 "--cold-starts", "0", "--images", "200", "--no-keras", "--out", out],
    "serve": lambda model, out: ["serve", "--model", model],
}  # fmt: skip


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["run folder", "export folder", "artifact file", "shipped format"])
def test_every_command_takes_every_kind(named, real_data, tmp_path, monkeypatch, command, kind):
    _, accepted, _ = named
    given, artifact = accepted[kind]
    serving = serve_loads(monkeypatch)
    result = invoke(COMMANDS[command](given, tmp_path))
    assert result.exit_code == 0, result.output
    if command == "predict":
        assert f'"model": "{artifact.name}"' in result.stdout
    elif command == "evaluate":
        assert str(artifact) in (tmp_path / "eval.json").read_text()
    elif command == "check":
        assert "check passed" in result.stdout + result.stderr
    elif command == "bench":
        assert artifact.name in (tmp_path / "bench.json").read_text()
    else:
        assert f"serving {artifact.name}" in result.stderr and serving["app"] is not None
    assert Classifier.load(given).path == artifact


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["missing", "no model in it", "other file"])
def test_every_command_refuses_the_same_way(named, tmp_path, monkeypatch, command, kind):
    _, _, refused = named
    given, message = refused[kind]
    serve_loads(monkeypatch)
    result = invoke(COMMANDS[command](given, tmp_path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    with pytest.raises(FmnistError) as raised:
        Classifier.load(given)
    assert str(raised.value) == message
