"""The deployable twin of a Keras model: the same function, without training plumbing.

A trained fmnist model divides its uint8 pixels by 255 in a `Rescaling` layer and flattens
with a `Reshape` that reads the batch size at run time; a user's model adapted to the contract
(`fmnist.export.keras_source`) has a `Rescaling` (perhaps with an offset, for a mean and a
standard deviation) and a `Reshape` to its own layout in front of its layers. Converted as they
are, these leave ops in every exported graph: a multiply (and an add) before the first layer,
reshapes that undo one another, and a Shape / Gather / Slice / Concat subgraph (TFLite: SHAPE /
STRIDED_SLICE / PACK). `deployable` rebuilds the layer chain with the scale folded into the
first convolution or dense kernel (exact: zero padding stays zero) and the offset into its bias
where that is exact too (a dense layer, or a convolution without padding), consecutive reshapes
as one with a constant ``[-1, ...]`` shape (none where it changes nothing), which keeps the
batch dynamic. Dropout is dropped. A model that is not a plain chain of layers is converted as
it is.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from fmnist import contract

KERNELS = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Dense)  # weights[0] is linear in x
RESHAPES = (layers.Reshape, layers.Flatten)


class StaticReshape(layers.Layer):
    """Reshape to ``[-1, *shape]``: a constant shape, so no op computes it at run time."""

    def __init__(self, shape: tuple[int, ...], **kwargs: Any):
        super().__init__(**kwargs)
        self.shape = tuple(shape)

    def call(self, x: Any) -> Any:
        return ops.reshape(x, (-1, *self.shape))


def _body(model: keras.Model) -> list[layers.Layer]:
    """The model's layers after its input, in order."""
    return [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]


def is_chain(model: keras.Model) -> bool:
    """Whether the model is one chain of layers, each fed by the one before."""
    if isinstance(model, keras.Sequential):
        return True
    previous = model.inputs[0]
    for layer in _body(model):
        if layer.input is not previous:
            return False
        previous = layer.output
    return previous is model.outputs[0]


def _offset_folds(layer: layers.Layer) -> bool:
    """Whether a constant added to this layer's input can move into its bias exactly."""
    if not getattr(layer, "use_bias", False):
        return False
    return isinstance(layer, layers.Dense) or (type(layer) is layers.Conv2D and layer.padding == "valid")


def _folded(layer: layers.Layer, scale: float, offset: float) -> list[np.ndarray]:
    """The layer's weights with `x * scale + offset` applied to its input folded in."""
    weights = layer.get_weights()
    kernel = weights[0]
    if offset:  # every output sums offset × its kernel over the inputs it reads
        weights[1] = weights[1] + offset * kernel.reshape(-1, kernel.shape[-1]).sum(axis=0)
    weights[0] = kernel * scale
    return weights


def deployable(model: keras.Model, input_dtype: str = "uint8") -> keras.Model:
    """The twin of `model` to convert: same weights and logits, lean graph; its input `pixels`
    is uint8 (or `input_dtype`, for converters that calibrate on float images of 0..255)."""
    if not is_chain(model):
        if model.inputs[0].dtype == input_dtype:
            return model
        twin = keras.models.clone_model(model, input_tensors=keras.Input(contract.INPUT_SHAPE, dtype=input_dtype))
        twin.set_weights(model.get_weights())
        return twin
    pixels = keras.Input(contract.INPUT_SHAPE, dtype=input_dtype, name=contract.INPUT_NAME)
    x = pixels if input_dtype == "float32" else ops.cast(pixels, "float32")
    scaling: tuple[float, float] | None = None  # (scale, offset) not applied yet
    shape: tuple[int, ...] | None = None  # a reshape not applied yet
    for layer in _body(model):
        if isinstance(layer, layers.Rescaling) and scaling is None and np.ndim(layer.scale) == 0:
            scaling = (float(layer.scale), float(layer.offset))
            continue
        if isinstance(layer, layers.Dropout):
            continue
        if isinstance(layer, RESHAPES):  # commutes with the scaling; only the last of a run of them counts
            shape = tuple(int(d) for d in layer.output.shape[1:])
            continue
        if shape is not None and shape != tuple(x.shape[1:]):
            x = StaticReshape(shape)(x)
        shape = None
        fold = isinstance(layer, KERNELS) and scaling is not None and (scaling[1] == 0 or _offset_folds(layer))
        if scaling is not None and not fold:  # nothing to fold the scaling into exactly
            x = layers.Rescaling(*scaling)(x)
            scaling = None
        twin = layer.__class__.from_config(layer.get_config())
        x = twin(x)
        twin.set_weights(_folded(layer, *scaling) if scaling is not None else layer.get_weights())
        scaling = None
    if scaling is not None:
        x = layers.Rescaling(*scaling)(x)
    if shape is not None and shape != tuple(x.shape[1:]):
        x = StaticReshape(shape)(x)
    return keras.Model(pixels, x, name=model.name)
