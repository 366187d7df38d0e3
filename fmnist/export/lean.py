"""The deployable twin of a trained Keras model: the same function, without training plumbing.

A trained fmnist model divides its uint8 pixels by 255 in a `Rescaling` layer and flattens
with a `Reshape` that reads the batch size at run time. Converted as they are, both leave
ops in every exported graph: a multiply before the first convolution, and a Shape / Gather /
Slice / Concat subgraph (TFLite: SHAPE / STRIDED_SLICE / PACK) before the dense layer.
`deployable` rebuilds the layer chain with the scale folded into the first convolution or
dense kernel (exact: the offset is 0, so zero padding is unchanged) and a constant
``[-1, features]`` reshape, which keeps the batch dynamic. Dropout is dropped. A model that
is not a plain chain of layers is converted as it is.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from fmnist import contract

KERNELS = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Dense)  # weights[0] is linear in x


class StaticFlatten(layers.Layer):
    """Flatten to ``[-1, features]``: a constant shape, so no op computes it at run time."""

    def call(self, x: Any) -> Any:
        return ops.reshape(x, (-1, math.prod(x.shape[1:])))


def _body(model: keras.Model) -> list[layers.Layer]:
    """The model's layers after its input, in order."""
    return [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]


def _is_chain(model: keras.Model) -> bool:
    previous = model.inputs[0]
    for layer in _body(model):
        if layer.input is not previous:
            return False
        previous = layer.output
    return previous is model.outputs[0]


def deployable(model: keras.Model, input_dtype: str = "uint8") -> keras.Model:
    """The twin of `model` to convert: same weights and logits, lean graph; its input `pixels`
    is uint8 (or `input_dtype`, for converters that calibrate on float images of 0..255)."""
    if not _is_chain(model):
        if model.inputs[0].dtype == input_dtype:
            return model
        twin = keras.models.clone_model(model, input_tensors=keras.Input(contract.INPUT_SHAPE, dtype=input_dtype))
        twin.set_weights(model.get_weights())
        return twin
    pixels = keras.Input(contract.INPUT_SHAPE, dtype=input_dtype, name=contract.INPUT_NAME)
    x = pixels if input_dtype == "float32" else ops.cast(pixels, "float32")
    scale = None
    for layer in _body(model):
        if isinstance(layer, layers.Rescaling) and scale is None and float(layer.offset) == 0:
            scale = float(layer.scale)  # folded into the next kernel
        elif isinstance(layer, layers.Dropout):
            continue
        elif isinstance(layer, (layers.Reshape, layers.Flatten)) and len(layer.output.shape) == 2:
            x = StaticFlatten(name=layer.name)(x)
        else:
            if scale is not None and not isinstance(layer, KERNELS):  # nothing to fold the scale into
                x = layers.Rescaling(scale)(x)
                scale = None
            twin = layer.__class__.from_config(layer.get_config())
            x = twin(x)
            weights = layer.get_weights()
            if scale is not None:
                weights[0] = weights[0] * scale
                scale = None
            twin.set_weights(weights)
    return keras.Model(pixels, x, name=model.name)
