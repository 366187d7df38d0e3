"""What export accepts as its Keras model (`sources.open_source`) and how it finds each format's converter,
in-process on small untrained models."""

from __future__ import annotations

import pytest

from fmnist import formats
from fmnist.errors import ContractError, FmnistError
from fmnist.export import convert_onnx, convert_tflite, exporter, sources

WANTED = (
    "fmnist exports a model of one 28×28 grayscale image (float [N, 28, 28], [N, 28, 28, 1], [N, 1, 28, 28] "
    "or [N, 784], or uint8 [N, 28, 28, 1]) returning [N, 10]"
)
ONE_OF_EACH = "fmnist exports a model with one image input and one output of 10 classes"


def load_keras(path):
    return sources.open_source(path).given


def _save(tmp_path, name, inputs, outputs):
    import keras

    keras.Model(inputs, outputs).save(tmp_path / name)
    return tmp_path / name


def test_a_model_of_the_contract_is_loaded_and_others_are_refused_naming_the_file(tmp_path):
    import keras

    pixels = keras.Input((28, 28, 1), dtype="uint8")
    logits = keras.layers.Dense(10)(keras.layers.Flatten()(pixels))
    model = load_keras(_save(tmp_path, "good.keras", pixels, logits))
    assert model.inputs[0].shape == (None, 28, 28, 1) and model.outputs[0].shape == (None, 10)

    floats = keras.Input((32, 32, 3))
    path = _save(tmp_path, "other.keras", floats, keras.layers.Dense(5)(keras.layers.Flatten()(floats)))
    with pytest.raises(ContractError) as caught:
        load_keras(path)
    assert str(caught.value) == f"{path}: takes float32 [N, 32, 32, 3] and returns [N, 5]; {WANTED}"

    second = keras.Input((28, 28, 1), dtype="uint8")
    path = _save(tmp_path, "two.keras", [pixels, second], logits)
    with pytest.raises(ContractError) as caught:
        load_keras(path)
    assert str(caught.value) == f"{path}: has 2 inputs and 1 outputs; {ONE_OF_EACH}"


@pytest.mark.parametrize(
    ("error", "reason"),
    [(ValueError("  bad layer config\nin layer 3\n"), "bad layer config"), (KeyError(), "KeyError")],
)
def test_a_file_keras_cannot_load_is_refused_with_the_first_line_of_the_reason(tmp_path, monkeypatch, error, reason):
    import keras

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(keras.models, "load_model", failing)
    (tmp_path / "junk.keras").write_bytes(b"")
    with pytest.raises(FmnistError) as caught:
        load_keras(tmp_path / "junk.keras")
    assert str(caught.value) == f"{tmp_path / 'junk.keras'}: not a loadable Keras model ({reason})"


def test_a_corrupt_keras_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(FmnistError, match=f"^{path}: not a loadable Keras model \\(.+\\)$"):
        load_keras(path)


def test_each_format_is_made_by_the_converter_its_record_names():
    assert exporter._converter(formats.FORMATS["onnx"]) is convert_onnx.to_onnx
    assert exporter._converter(formats.FORMATS["tflite-int8"]) is convert_tflite.to_tflite_int8


def test_a_model_with_python_code_inside_is_refused_unrun(tmp_path):
    """Keras's safe mode: a Lambda layer's code, stored in the file, is never deserialised."""
    import keras

    marker = tmp_path / "ran"
    code = eval(f"lambda x: x if open({str(marker)!r}, 'w') else x")  # leaves a file where it runs
    pixels = keras.Input((28, 28, 1), dtype="uint8")
    flat = keras.layers.Flatten()(keras.layers.Lambda(code)(pixels))
    path = _save(tmp_path, "lambda.keras", pixels, keras.layers.Dense(10)(flat))
    marker.unlink()
    lambda_layer = "a Lambda layer, whose Python code fmnist never runs from a file; build it from Keras layers"
    with pytest.raises(FmnistError, match=f"^{path}: not a loadable Keras model \\({lambda_layer}\\)$"):
        load_keras(path)
    assert not marker.exists()


def test_a_model_saved_with_its_own_loss_is_loaded_without_it(tmp_path):
    """Export needs the layers, not the training configuration: a loss Keras cannot find is no obstacle."""
    import keras

    def own_loss(labels, logits):
        return keras.ops.mean((labels - logits) ** 2)

    pixels = keras.Input((28, 28, 1), dtype="uint8")
    model = keras.Model(pixels, keras.layers.Dense(10)(keras.layers.Flatten()(pixels)))
    model.compile(optimizer="adam", loss=own_loss)
    model.save(tmp_path / "compiled.keras")
    assert load_keras(tmp_path / "compiled.keras").outputs[0].shape == (None, 10)


def test_a_model_never_built_is_refused_as_having_no_inputs(tmp_path):
    import keras

    keras.Sequential([keras.layers.Dense(10)]).save(tmp_path / "unbuilt.keras")
    with pytest.raises(ContractError) as caught:
        load_keras(tmp_path / "unbuilt.keras")
    assert str(caught.value) == f"{tmp_path / 'unbuilt.keras'}: has 0 inputs and 0 outputs; {ONE_OF_EACH}"


def test_tensorflow_files_are_refused_with_how_to_save_them_as_keras(tmp_path):
    (tmp_path / "saved" / "variables").mkdir(parents=True)
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "frozen.pb").write_bytes(b"")
    how = "save it where it was built with model.save('my_model.keras') and export that file"
    with pytest.raises(FmnistError) as caught:
        sources.open_source(tmp_path / "saved")
    assert (
        str(caught.value)
        == f"{tmp_path / 'saved'}: a TensorFlow SavedModel, which Keras 3 does not load for export; {how}"
    )
    with pytest.raises(FmnistError, match="^.*frozen.pb: a TensorFlow graph file, which Keras 3 does not load"):
        sources.open_source(tmp_path / "frozen.pb")
    (tmp_path / "weights.pt").write_bytes(b"")
    with pytest.raises(FmnistError, match="weights.pt: not a model file export takes; give a .keras, .h5 or .onnx"):
        sources.open_source(tmp_path / "weights.pt")
