"""The architectures `fmnist train --arch` knows, and their multiply-accumulate counts.

Every model takes raw uint8 pixels [N, 28, 28, 1] (named ``pixels``) and returns float32
logits [N, 10] (named ``logits``): normalisation lives inside the graph.
"""

from __future__ import annotations

import keras
from keras import layers

from fmnist import contract


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    pixels = keras.Input(contract.INPUT_SHAPE, dtype="uint8", name=contract.INPUT_NAME)
    return pixels, layers.Rescaling(1 / 255.0, name="normalise")(pixels)


def _logits(x: keras.KerasTensor) -> keras.KerasTensor:
    # float32 even under a mixed-precision policy, so the softmax and loss stay exact
    return layers.Dense(contract.NUM_CLASSES, dtype="float32", name=contract.OUTPUT_NAME)(x)


def mlp() -> keras.Model:
    """The seed articles' baseline: Flatten-Dense128-Dense10."""
    pixels, x = _inputs()
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(pixels, _logits(x), name="mlp")


def cnn() -> keras.Model:
    """The seed articles' CNN: Conv32-Pool-Conv64-Pool-Dense128-Dense10."""
    pixels, x = _inputs()
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(pixels, _logits(x), name="cnn")


def _conv_bn_relu(
    x: keras.KerasTensor, channels: int, name: str, separable: bool = False, strides: int = 1
) -> keras.KerasTensor:
    if separable:  # depthwise 3×3 then pointwise 1×1, each folded with its batch norm
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_dw_bn")(x)
        x = layers.ReLU(name=f"{name}_dw_relu")(x)
        x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(channels, 3, strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)  # settles in few steps
    return layers.ReLU(name=f"{name}_relu")(x)


def _edge_family(
    name: str,
    widths: tuple[int, int, int],
    *,
    extra: int = 0,
    head: str = "flatten",
    separable: bool = False,
    stride_stem: bool = False,
) -> keras.Model:
    """Three conv-BN-ReLU blocks at 28×28, 14×14 and 7×7 with max-pools between, `extra` more
    blocks at 7×7, then a dense head on the flattened map (or on its global average). With
    `stride_stem` the first block strides 2 instead of being pooled: it reads every pixel but
    computes at 14×14 only, a quarter of the positions.

    Only ops that TFLite int8 and ONNX QDQ run natively: conv (or depthwise + pointwise), batch
    norm folded into it, ReLU, max-pool, dense. The first block stays a full convolution: a
    one-channel depthwise one would learn nothing a 3×3 kernel cannot.
    """
    pixels, x = _inputs()
    if stride_stem:
        x = _conv_bn_relu(x, widths[0], "block1", strides=2)
    else:
        x = _conv_bn_relu(x, widths[0], "block1")
        x = layers.MaxPooling2D(name="pool1")(x)
    x = _conv_bn_relu(x, widths[1], "block2", separable)
    x = layers.MaxPooling2D(name="pool2")(x)
    for i in range(1 + extra):
        x = _conv_bn_relu(x, widths[2], f"block{3 + i}", separable)
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:  # a static reshape, so TFLite needs no shape ops for the dynamic batch
        x = layers.Reshape((7 * 7 * widths[2],), name="flatten")(x)
    return keras.Model(pixels, _logits(x), name=name)


def edge() -> keras.Model:
    """A compact CNN for int8 deployment: 2 M multiply-adds, about 20 µs per image in LiteRT.

    Channels double as the resolution halves: 16 at 28×28, where every channel costs 784
    positions and memory traffic dominates the latency; 32 at 14×14; 64 at 7×7.
    """
    return _edge_family("edge", (16, 32, 64))


BUILDERS = {  # one per config.Arch
    "edge": edge,
    "edge-w96": lambda: _edge_family("edge-w96", (16, 32, 96)),  # wider at 7×7, where positions are few
    "edge-w48": lambda: _edge_family("edge-w48", (16, 48, 64)),  # wider at 14×14
    "edge-n8": lambda: _edge_family("edge-n8", (8, 32, 96)),  # narrow at 28×28, wide at 7×7: edge's latency
    "edge-deep": lambda: _edge_family("edge-deep", (16, 32, 64), extra=1),  # a second block at 7×7
    "edge-gap": lambda: _edge_family("edge-gap", (16, 32, 128), head="gap"),  # global average, few parameters
    "edge-sep": lambda: _edge_family("edge-sep", (24, 64, 96), separable=True),  # separable, wider for the MACs
    "edge-s2": lambda: _edge_family("edge-s2", (16, 32, 112), stride_stem=True),  # 0.9× edge-n8's latency
    "edge-s2w24": lambda: _edge_family("edge-s2w24", (24, 32, 96), stride_stem=True),  # edge-n8's latency
    "wide": lambda: _edge_family("wide", (32, 64, 128), extra=1),  # a teacher for distillation
    "cnn": cnn,
    "mlp": mlp,
}


def build(arch: str) -> keras.Model:
    """Build an architecture by name."""
    return BUILDERS[arch]()


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates for one image through the conv and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c * kh * kw
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1] // layer.groups
            total += h * w * c_out * kh * kw * c_in
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
