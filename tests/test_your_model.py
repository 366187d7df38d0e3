"""A user's own model, as the tutorials build it or as PyTorch exports it, through `fmnist export` and
everything after it: small models trained for an epoch on real images, exported, and the runtime's
probabilities compared with the model's own on the 10,000 test images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_graphs import PLUMBING, PLUMBING_TFLITE, extra, onnx_ops, tflite_ops
from test_model_kinds import COMMANDS, invoke, serve_loads

from fmnist import adapters, folders
from fmnist.export import exporter
from fmnist.export.options import ExportOptions
from fmnist.files import sha256_file
from fmnist.runtime import Classifier

MODELS = Path(__file__).with_name("models")  # made by PyTorch itself: tests/models/make_torch.py
TRAIN_IMAGES = 3000


def _softmax(x):
    return adapters.Adapters(head="softmax").apply_head(x)


def _keras_models():
    """Builders of the models the tutorials teach: (what it takes, what it ends in, how it is built)."""
    import keras
    from keras import layers

    def tutorial():  # TensorFlow's basic classification, as written
        return keras.Sequential(
            [layers.Flatten(input_shape=(28, 28)), layers.Dense(64, activation="relu"), layers.Dense(10)]
        )

    def softmax_mlp():
        return keras.Sequential(
            [keras.Input((28, 28)), layers.Flatten(), layers.Dense(64, "relu"), layers.Dense(10, activation="softmax")]
        )

    def flat_784():
        return keras.Sequential(
            [keras.Input((784,)), layers.Dense(64, "relu"), layers.Dense(10), layers.Activation("softmax")]
        )

    def cnn():  # a Conv32-Pool CNN of the seed articles, on standardised pixels, its softmax a layer of its own
        return keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(8, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(16, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(10),
                layers.Softmax(),
            ]
        )

    def nested_softmax():  # the softmax inside a model of its own, as in Sequential([model, Softmax-ending head])
        head = keras.Sequential([keras.Input((32,)), layers.Dense(10, activation="softmax")])
        return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(32, "relu"), head])

    def functional_sigmoid():  # two branches: not a chain, converted as it is behind the adapters
        image = keras.Input((1, 28, 28))
        flat = layers.Flatten()(image)
        x = layers.Dense(32, "relu")(flat)
        x = layers.Concatenate()([x, layers.Dense(16, "relu")(flat)])
        return keras.Model(image, layers.Dense(10, activation="sigmoid")(x))

    return {
        "tutorial": (tutorial, "unit", "logits", "tutorial.keras"),
        "softmax_mlp": (softmax_mlp, "unit", "softmax", "softmax_mlp.h5"),
        "flat_784": (flat_784, "raw", "softmax", "flat_784.keras"),
        "cnn": (cnn, "standard", "softmax", "cnn.keras"),
        "functional_sigmoid": (functional_sigmoid, "unit", "sigmoid", "functional_sigmoid.h5"),
        "nested_softmax": (nested_softmax, "unit", "softmax", "nested_softmax.keras"),
    }


@pytest.fixture(scope="session")
def user_models(real_data, tmp_path_factory):
    """Each tutorial model trained for an epoch on real images and saved as its user saves it."""
    import keras

    folder = tmp_path_factory.mktemp("user-models")
    built = {}
    keras.utils.set_random_seed(0)
    for name, (build, scale, head, file) in _keras_models().items():
        model = build()
        given = adapters.Adapters(tuple(model.inputs[0].shape[1:]), adapters.scaling(scale), head)
        x = given.feed(real_data.x_train[:TRAIN_IMAGES, ..., None])
        labels = real_data.y_train[:TRAIN_IMAGES]
        losses = {
            "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "softmax": keras.losses.SparseCategoricalCrossentropy(),
            "sigmoid": keras.losses.BinaryCrossentropy(),
        }
        model.compile("adam", losses[head])
        model.fit(x, np.eye(10)[labels] if head == "sigmoid" else labels, epochs=1, batch_size=64, verbose=0)
        model.save(folder / file)
        built[name] = (folder / file, given, model)
    return built


def _export(path, formats, tmp_path, scale="unit", **kwargs):
    out = tmp_path / f"{path.stem}-export"
    manifest = exporter.export(path, formats, out, ExportOptions(calibration_size=200, scaling=scale), **kwargs)
    return out, manifest


def _own_probabilities(outputs, head):
    """The probabilities a user reads from their model: a softmax over logits, or its own softmax."""
    return _softmax(outputs) if head == "logits" else np.exp(outputs) if head == "log_softmax" else outputs


def _check_artifacts(out, manifest, reference, head, pixels):
    """Float artifacts give the model's own probabilities (labels, for a sigmoid); int8 ones its labels."""
    for name, entry in manifest["artifacts"].items():
        probabilities = Classifier(out / entry["file"]).predict_proba(pixels)
        if entry["precision"] == "float32" and head != "sigmoid":
            assert np.abs(probabilities - _own_probabilities(reference, head)).max() < 1e-4, name
        agreement = (probabilities.argmax(1) == reference.argmax(1)).mean()
        assert agreement >= (0.999 if entry["precision"] == "float32" else 0.97), (name, agreement)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_keras_models()))
def test_a_tutorial_model_exports_to_the_contract_with_its_own_probabilities(user_models, real_data, tmp_path, name):
    path, given, model = user_models[name]
    scale, head = _keras_models()[name][1:3]
    pixels = real_data.x_test[..., None]
    reference = model.predict(given.feed(pixels), batch_size=1000, verbose=0)
    notices: list[str] = []
    wanted = ["all"] if name in ("tutorial", "cnn") else ["onnx,tflite-int8"]
    out, manifest = _export(path, wanted, tmp_path, scale, notice=notices.append)
    _check_artifacts(out, manifest, reference, head, pixels)

    source = manifest["source"]
    assert source["kind"] == "keras" and source["path"] == str(path) and source["sha256"] == sha256_file(path)
    assert source["adapters"]["head"] == head
    assert source["adapters"]["input"]["shape"] == ["N", *given.layout]
    assert source["adapters"]["input"]["scaling"] == given.scaling.name
    assert source["test_accuracy"] == float((reference.argmax(1) == real_data.y_test).mean())
    assert notices[0].startswith(f"input: uint8 pixels → {given.scaling.describe()}, float32 ")
    if head != "logits":
        assert notices[1].startswith(f"output: the model ends in a {head}, taken off")
    assert not any(n.startswith("warning") for n in notices), notices
    assert all(Classifier(out / e["file"]).class_names[0] == "T-shirt/top" for e in manifest["artifacts"].values())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tutorial", "flat_784", "cnn"])
def test_the_adapters_of_a_chain_fold_into_its_first_layer(user_models, tmp_path, name):
    """Cast, scaling and reshape in front of a chain of layers leave no op but the contract's cast."""
    path, given, _ = user_models[name]
    out, _ = _export(path, ["onnx,tflite"], tmp_path, given.scaling.name)
    assert extra(onnx_ops(out / "model.onnx", tmp_path), PLUMBING, {"Cast": 1}) == {}
    assert extra(tflite_ops(out / "model.tflite"), PLUMBING_TFLITE, {"CAST": 1}) == {}


def test_mean_and_std_fold_into_a_dense_layer_and_an_unpadded_convolution_only():
    import keras
    from keras import layers

    from fmnist.export.keras_source import adapted
    from fmnist.export.lean import deployable

    standard = adapters.scaling("standard")
    pixels = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    for first, folded in [(layers.Conv2D(4, 3), True), (layers.Conv2D(4, 3, padding="same"), False)]:
        model = keras.Sequential([keras.Input((28, 28, 1)), first, layers.Flatten(), layers.Dense(10)])
        given = adapted(model, adapters.Adapters((28, 28, 1), standard))
        twin = deployable(given)
        names = [layer.__class__.__name__ for layer in twin.layers]
        assert ("Rescaling" not in names) == folded, names
        expected = model(standard.scale * pixels.astype(np.float32) + standard.offset)
        assert np.abs(np.asarray(twin(pixels)) - np.asarray(expected)).max() < 1e-4


@pytest.mark.slow
def test_a_wrong_scaling_is_named_with_the_one_that_fits(user_models, tmp_path):
    path, _, _ = user_models["cnn"]  # trained on standardised pixels
    notices: list[str] = []
    _export(path, ["onnx"], tmp_path, "unit", notice=notices.append)
    warning = next(n for n in notices if n.startswith("warning"))
    assert warning.startswith("warning: with --scaling standard the model scores ")
    assert warning.endswith("with unit: was it trained on (pixels / 255 - 0.286) / 0.353?")


ONNX_CASES = {  # file in tests/models, its scaling, its head
    "cnn_logsoftmax.onnx": ("standard", "log_softmax"),  # TorchScript exporter, NCHW, dynamic batch
    "cnn_dynamo.onnx": ("standard", "logits"),  # the dynamo exporter, NCHW, dynamic batch
    "mlp_fixed_batch.onnx": ("unit", "logits"),  # TorchScript exporter, batch fixed at 1, a Flatten first
    "quickstart.onnx": ("unit", "logits"),  # torch.onnx.export's defaults: one image, weights in a .data file beside
}


@pytest.mark.slow
@pytest.mark.parametrize("file", list(ONNX_CASES))
def test_a_pytorch_model_exports_to_onnx_with_its_own_probabilities(real_data, tmp_path, file):
    from fmnist.export import onnx_source

    scale, head = ONNX_CASES[file]
    path = tmp_path / file
    for given in MODELS.glob(f"{file}*"):  # with its external data, where it has any
        shutil.copyfile(given, tmp_path / given.name)
    pixels = real_data.x_test[..., None]
    given = adapters.Adapters((1, 28, 28), adapters.scaling(scale), head)
    reference = onnx_source.run(path, given.feed(pixels), onnx_source.batch_of(onnx_source._load(path)) or 1000)
    out, manifest = _export(path, ["all"], tmp_path, scale)
    assert list(manifest["artifacts"]) == ["onnx", "onnx-int8"]  # all an ONNX model makes
    _check_artifacts(out, manifest, reference, head, pixels)
    assert manifest["source"]["kind"] == "onnx" and manifest["source"]["adapters"]["head"] == head
    ops = onnx_ops(out / "model.int8.onnx", tmp_path)
    allowed = {"DequantizeLinear": 1, "Transpose": 1}  # a PyTorch model flattens NCHW: one transpose back
    assert extra(ops, PLUMBING | {"QuantizeLinear", "DequantizeLinear"}, allowed) == {}, ops


def _onnx_mlp(weights, input_dims, head, fixed_reshape=False, name="image"):
    """A float ONNX classifier built with onnx's helpers from a trained MLP's weights."""
    from onnx import TensorProto, helper, numpy_helper

    (w1, b1), (w2, b2) = weights
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))]
    flat = [784] if fixed_reshape else [-1, 784]  # fixed: one image as one vector, then a batch of that one
    inits += [numpy_helper.from_array(np.array(flat, np.int64), "flat"), numpy_helper.from_array(np.int64([0]), "a")]
    nodes = [helper.make_node("Reshape", [name, "flat"], ["x" if fixed_reshape else "x0"])]
    nodes += [helper.make_node("Unsqueeze", ["x", "a"], ["x0"])] if fixed_reshape else []
    nodes += [
        helper.make_node("Gemm", ["x0", "w1", "b1"], ["x1"]),
        helper.make_node("Relu", ["x1"], ["x2"]),
        helper.make_node("Gemm", ["x2", "w2", "b2"], ["scores" if head != "logits" else "out"]),
    ]
    if head != "logits":
        nodes.append(helper.make_node({"softmax": "Softmax", "sigmoid": "Sigmoid"}[head], ["scores"], ["out"]))
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [input_dims[0], 10])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.slow
@pytest.mark.parametrize(
    "dims, head, scale",
    [(["N", 28, 28, 1], "softmax", "standard"), (["batch", 28, 28], "sigmoid", "unit"), ([1, 784], "logits", "unit")],
)
@pytest.mark.parametrize("name", ["image", "pixels"])  # its input may have the contract's input's name
def test_an_onnx_model_built_with_onnx_helpers_exports_in_every_layout(
    user_models, real_data, tmp_path, dims, head, scale, name
):
    """The scaling folds into the first Gemm: its kernel, and a mean's offset into its bias."""
    import onnx

    _, _, model = user_models["softmax_mlp"]
    dense = [layer.get_weights() for layer in model.layers if layer.get_weights()]
    path = tmp_path / "helper.onnx"
    onnx.save(_onnx_mlp(dense, dims, head, name=name), path)
    pixels = real_data.x_test[..., None]
    x = adapters.Adapters((784,), adapters.scaling(scale)).feed(pixels)
    logits = np.maximum(x @ dense[0][0] + dense[0][1], 0) @ dense[1][0] + dense[1][1]
    reference = adapters.Adapters(head=head).apply_head(logits)
    out, manifest = _export(path, ["onnx,onnx-int8"], tmp_path, scale)
    _check_artifacts(out, manifest, reference, head, pixels)
    assert extra(onnx_ops(out / "model.onnx", tmp_path), PLUMBING, {"Cast": 1}) == {}  # the scale is in the Gemm


def _refused(args, out):
    result = invoke(["export", *map(str, args), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()  # nothing written
    return result.stderr.strip().splitlines()[-1]


def test_a_model_fmnist_cannot_take_is_refused_before_anything_is_written(real_data, tmp_path):
    import keras
    import onnx
    from keras import layers

    colour = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10)])
    colour.save(tmp_path / "colour.keras")
    takes = (
        "fmnist exports a model of one 28×28 grayscale image (float [N, 28, 28], [N, 28, 28, 1], [N, 1, 28, 28] "
        "or [N, 784], or uint8 [N, 28, 28, 1]) returning [N, 10]"
    )
    assert _refused([tmp_path / "colour.keras"], tmp_path / "o1") == (
        f"error: {tmp_path / 'colour.keras'}: takes float32 [N, 32, 32, 3] and returns [N, 10]; {takes}"
    )
    five = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(5)])
    five.save(tmp_path / "five.h5")
    assert _refused([tmp_path / "five.h5"], tmp_path / "o2").endswith("returns [N, 5]; " + takes)

    rng = np.random.default_rng(0)
    weights = [
        (rng.normal(size=(784, 8)).astype(np.float32), np.zeros(8, np.float32)),
        (rng.normal(size=(8, 10)).astype(np.float32), np.zeros(10, np.float32)),
    ]
    fixed = _onnx_mlp(weights, [1, 28, 28], "logits", fixed_reshape=True)
    onnx.save(fixed, tmp_path / "fixed.onnx")
    line = _refused([tmp_path / "fixed.onnx"], tmp_path / "o3")
    assert line.startswith(f"error: {tmp_path / 'fixed.onnx'}: its graph runs one batch size only (1), and an fmnist")

    two = _onnx_mlp(weights, ["N", 784], "logits")
    two.graph.output.append(onnx.helper.make_tensor_value_info("x1", onnx.TensorProto.FLOAT, ["N", 8]))
    onnx.save(two, tmp_path / "two.onnx")
    assert _refused([tmp_path / "two.onnx"], tmp_path / "o4") == (
        f"error: {tmp_path / 'two.onnx'}: has 1 inputs and 2 outputs; fmnist exports a model with one image input "
        "and one output of 10 classes"
    )
    onnx.save(_onnx_mlp(weights, ["N", 784], "logits"), tmp_path / "mlp.onnx")
    assert _refused([tmp_path / "mlp.onnx", "--format", "onnx,tflite-int8"], tmp_path / "o5") == (
        f"error: {tmp_path / 'mlp.onnx'}: an ONNX model makes onnx, onnx-int8; tflite-int8 is made from a Keras "
        "model (export that instead)"
    )
    (tmp_path / "junk.onnx").write_bytes(b"not protobuf")
    assert _refused([tmp_path / "junk.onnx"], tmp_path / "o6").startswith(
        f"error: {tmp_path / 'junk.onnx'}: not a loadable ONNX model ("
    )
    assert _refused([tmp_path / "mlp.onnx", "--scaling", "0.3"], tmp_path / "o7").startswith(
        "error: --scaling '0.3': choose unit (pixels / 255), raw (0..255), standard (0.286,0.353) or MEAN,STD"
    )


@pytest.fixture(scope="module")
def exported_user_models(user_models, tmp_path_factory):
    """The tutorial model's export and the PyTorch CNN's, in folders as a user has them."""
    root = tmp_path_factory.mktemp("theirs")
    keras_out, _ = _export(user_models["tutorial"][0], ["onnx,tflite-int8"], root)
    shutil.copyfile(MODELS / "cnn_logsoftmax.onnx", root / "cnn.onnx")
    onnx_out, _ = _export(root / "cnn.onnx", ["onnx,onnx-int8"], root, "standard")
    return {"keras": keras_out, "onnx": onnx_out}


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["keras", "onnx"])
def test_every_command_runs_the_export_of_a_users_model(exported_user_models, tmp_path, monkeypatch, command, kind):
    folder = exported_user_models[kind]
    serving = serve_loads(monkeypatch)
    result = invoke(COMMANDS[command](folder, tmp_path))
    assert result.exit_code == 0, result.output
    best = Classifier.load(folder).path
    if command == "predict":
        assert f'"model": "{best.name}"' in result.stdout
    elif command == "check":
        assert "check passed" in result.stdout + result.stderr
    elif command == "serve":
        assert serving["app"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("kind, row", [("keras", "keras-call"), ("onnx", "source-onnx")])
def test_bench_measures_the_users_model_as_given_beside_its_artifacts(exported_user_models, tmp_path, kind, row):
    folder = exported_user_models[kind]
    args = COMMANDS["bench"](folder, tmp_path)
    result = invoke([a for a in args if a != "--no-keras"])
    assert result.exit_code == 0, result.output
    rows = {r["artifact"].split("/")[1]: r for r in json.loads((tmp_path / "bench.json").read_text())["rows"]}
    assert folders.read_manifest(folder).source["kind"] == kind
    assert rows[row]["accuracy"] == pytest.approx(rows["onnx"]["accuracy"], abs=0.006)  # 200 images
    assert rows["onnx"]["reference"] == ("keras-predict" if kind == "keras" else "source-onnx")
