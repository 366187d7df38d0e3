"""A runtime family is one record in `formats.RUNTIMES` plus its backend: here a linear model in a .npz
file, run by numpy, exported, loaded, checked and benchmarked by the code every family goes through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fmnist import contract, folders, formats
from fmnist.export import exporter
from fmnist.export.options import ExportOptions
from fmnist.formats import Format, Limits, Runtime
from fmnist.runtime import Classifier
from fmnist.runtime.backends import open_backend

LINEAR = Runtime(
    "numpy", ".npz", ("numpy",), "core",
    backend=f"{__name__}:LinearBackend", output_step=f"{__name__}:no_step", profile=f"{__name__}:no_profile",
)  # fmt: skip
FORMAT = Format(
    name="linear", file="model.linear.npz", family="linear", precision="float32", converter=f"{__name__}:to_linear",
    how="fit a linear model to the float model's logits", limits=Limits(min_agreement=0.7, max_logit_delta=100),
    preference=9,
)  # fmt: skip


class LinearBackend:
    """The family's backend: logits = pixels · W + b."""

    runtime = "numpy"

    def __init__(self, path, threads=None):
        self.path = Path(path)
        with np.load(self.path, allow_pickle=False) as npz:
            self.weights, self.bias, self.metadata = npz["weights"], npz["bias"], json.loads(str(npz["fmnist"]))

    def __call__(self, pixels):
        return (pixels.reshape(len(pixels), -1) / 255.0 @ self.weights + self.bias).astype(np.float32)

    def bare(self):
        return self


def no_step(path):
    raise AssertionError("a float format has no output step")


def no_profile(path, pixels):
    return {"operators": []}


FITTED: dict = {}


def to_linear(job):
    """The family's converter: least squares on the reference model's logits of the calibration-free
    training images it is given here (the stand-in Keras model of the test)."""
    x = FITTED["pixels"].reshape(len(FITTED["pixels"]), -1) / 255.0
    design = np.hstack([x, np.ones((len(x), 1))])
    solution, *_ = np.linalg.lstsq(design, job.model.predict(FITTED["pixels"], 1000, 0), rcond=None)
    with open(job.target, "wb") as file:
        np.savez(file, weights=solution[:-1], bias=solution[-1], fmnist=np.str_(json.dumps(job.metadata)))


@pytest.fixture
def linear_family(monkeypatch, real_data):
    monkeypatch.setitem(formats.RUNTIMES, "linear", LINEAR)
    monkeypatch.setitem(formats.FORMATS, FORMAT.name, FORMAT)
    FITTED["pixels"] = real_data.x_train[:5000, ..., None]


def test_a_new_runtime_family_is_one_record_and_its_backend(linear_family, real_data, tmp_path, monkeypatch):
    from test_publish import stand_in_source

    from fmnist.bench import targets
    from fmnist.runtime.check import check

    model = tmp_path / "run" / folders.MODEL
    model.parent.mkdir()
    model.write_bytes(b"a model")
    monkeypatch.setattr(exporter, "open_source", lambda path, scale=None: stand_in_source(path))
    out = tmp_path / "run" / folders.EXPORT
    manifest = exporter.export(model, ["linear"], out, ExportOptions())
    entry = manifest["artifacts"]["linear"]
    assert entry["family"] == "linear" and entry["file"] == "model.linear.npz" and "opset" not in entry
    assert entry["verified"]["agreement"] >= 0.7

    assert isinstance(open_backend(out / FORMAT.file), LinearBackend)
    for given in (tmp_path / "run", out, out / FORMAT.file):
        classifier = Classifier.load(given)
        assert classifier.path == out / FORMAT.file and classifier.format is FORMAT
        assert classifier.runtime == "numpy" and classifier.entry.verified == entry["verified"]
    labels = classifier.predict(real_data.x_test)
    assert float((labels == real_data.y_test).mean()) == entry["verified"]["accuracy"]
    (outcome,) = check(tmp_path / "run")
    assert outcome.passed and outcome.format == "linear"
    (group,) = targets.resolve([tmp_path / "run"])
    assert group.artifacts == {"linear": out / FORMAT.file}
    assert contract.check_metadata(out / FORMAT.file, classifier.backend.metadata) == contract.CLASS_NAMES
