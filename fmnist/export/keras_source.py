"""A Keras model as its users save it (`.keras`, legacy `.h5`), adapted to the model contract.

`load` opens the file in safe mode and reads what the model takes and ends in; `adapted` is the
model export converts: uint8 ``[N, 28, 28, 1]`` pixels in, the scaling and reshape the model
expects in front of its own layers (which `fmnist.export.lean` folds into the first layer where
that is exact), the final softmax or sigmoid taken off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fmnist import contract
from fmnist.adapters import LAYOUTS, Adapters, Scaling
from fmnist.errors import ContractError, FmnistError

HEAD_LAYERS = ("Softmax", "Activation")  # layers that are nothing but the final activation


def _load(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 -- Keras raises many kinds for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "`Lambda` layer" in first:
            first = "a Lambda layer, whose Python code fmnist never runs from a file; build it from Keras layers"
        raise FmnistError(f"{path}: not a loadable Keras model ({first})") from None


def _activation(layer: Any) -> str:
    """The name of a layer's activation: softmax, sigmoid, log_softmax, or another (logits)."""
    if layer.__class__.__name__ == "Softmax":
        return "softmax"
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    return name if name in ("softmax", "sigmoid", "log_softmax") else "logits"


def _last(model: Any) -> Any:
    """The layer (or nested model) that computes the model's output."""
    return model.outputs[0]._keras_history.operation


def _output_layer(model: Any) -> Any:
    """The layer that computes the model's output, inside nested models too."""
    import keras

    last = _last(model)
    return _output_layer(last) if isinstance(last, keras.Model) else last


def adapters_of(path: Path, model: Any, scaling: Scaling) -> Adapters:
    """What stands between the contract and `model`; a model it cannot take is a `ContractError`."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:  # a Sequential model never built has neither
        inputs, outputs = [], []
    if len(inputs) != 1 or len(outputs) != 1:
        raise ContractError(
            f"{path}: has {len(inputs)} inputs and {len(outputs)} outputs; fmnist exports a model with one "
            "image input and one output of 10 classes"
        )
    shape, dtype = tuple(inputs[0].shape)[1:], str(inputs[0].dtype)
    out_shape = tuple(outputs[0].shape)[1:]
    takes_contract = dtype == "uint8" and shape == contract.INPUT_SHAPE
    if not (takes_contract or (dtype.startswith("float") and shape in LAYOUTS)) or out_shape != (contract.NUM_CLASSES,):
        raise ContractError(
            f"{path}: takes {dtype} {_dims(inputs[0].shape)} and returns {_dims(outputs[0].shape)}; fmnist exports a "
            f"model of one 28×28 grayscale image (float [N, 28, 28], [N, 28, 28, 1], [N, 1, 28, 28] or [N, 784], "
            f"or uint8 [N, 28, 28, 1]) returning [N, {contract.NUM_CLASSES}]"
        )
    head = _activation(_output_layer(model))
    if takes_contract:
        return Adapters(head=head)
    return Adapters(shape, scaling, head)


def _dims(shape: Any) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def load(path: Path, scaling: Scaling) -> tuple[Any, Adapters]:
    """The model in `path` (safe mode) and its adapters."""
    model = _load(path)
    return model, adapters_of(path, model, scaling)


def headless(model: Any) -> Any:
    """`model` without its final softmax, log-softmax or sigmoid, sharing nothing with it; itself when it
    ends in logits."""
    import keras

    if _activation(_output_layer(model)) == "logits":
        return model
    last = _last(model)

    def clone(layer: Any) -> Any:
        if layer is not last:
            return layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.Model):  # the head is inside a nested model
            return headless(layer)
        if layer.__class__.__name__ in HEAD_LAYERS:
            return keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config({**layer.get_config(), "activation": "linear"})

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


def adapted(model: Any, adapters: Adapters) -> Any:
    """The model to convert: uint8 [N, 28, 28, 1] pixels in, logits out, the user's weights."""
    import keras

    from fmnist.export.lean import is_chain

    core = headless(model)
    if adapters.layout is None or adapters.scaling is None:
        return core
    pixels = keras.Input(contract.INPUT_SHAPE, dtype="uint8", name=contract.INPUT_NAME)
    front = [keras.layers.Rescaling(adapters.scaling.scale, adapters.scaling.offset, name="fmnist_scaling")]
    if adapters.layout != contract.INPUT_SHAPE:
        front.append(keras.layers.Reshape(adapters.layout, name="fmnist_layout"))
    x = pixels
    for layer in front:
        x = layer(x)
    if not is_chain(core):  # converted as it is, after the adapters
        return keras.Model(pixels, core(x), name=model.name)
    for layer in core.layers:  # one chain, so the exporter's lean twin can fold the adapters into it
        if layer.__class__.__name__ == "InputLayer":
            continue
        twin = layer.__class__.from_config(layer.get_config())
        x = twin(x)
        twin.set_weights(layer.get_weights())
    return keras.Model(pixels, x, name=model.name)


def outputs(model: Any, adapters: Adapters, pixels: np.ndarray) -> np.ndarray:
    """What `model` returns for uint8 pixels fed as it takes them."""
    return np.asarray(model.predict(adapters.feed(pixels), batch_size=1000, verbose=0), dtype=np.float32)
