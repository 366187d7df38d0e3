"""What a user's model takes and ends in, and the adapters that give its artifacts the model contract.

A model trained elsewhere takes float pixels (pixels / 255 as the tutorials scale them, 0..255, or
standardised with a mean and a standard deviation) in one of four layouts, and may end in a
softmax or a sigmoid. Its exported artifacts still take uint8 ``[N, 28, 28, 1]`` pixels and
return ``[N, 10]`` logits: the export puts the cast, the scaling and the reshape in front of the
user's layers and takes the final activation off. `Adapters` records what was assumed (the
manifest keeps it), and `feed` prepares pixels as the user's own model takes them, so the model
as given can be run beside its artifacts. Importing this module imports numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist import contract
from fmnist.errors import FmnistError

SIDE = contract.SIDE
LAYOUTS = {  # one image's dimensions, as a model may take them -> how export names the layout
    (SIDE, SIDE, 1): "NHWC [N, 28, 28, 1]",
    (SIDE, SIDE): "[N, 28, 28]",
    (1, SIDE, SIDE): "NCHW [N, 1, 28, 28]",
    (SIDE * SIDE,): "[N, 784]",
}
HEADS = {  # the final activation a model may end in -> what export does with it
    "logits": "kept as they are",
    "softmax": "taken off: the runtime's softmax gives the model's probabilities",
    "log_softmax": "taken off: the runtime's softmax gives the model's probabilities",
    "sigmoid": "taken off: labels are the model's, probabilities now come from a softmax over its pre-activation",
}
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530  # on the 0..1 scale, over the training images


@dataclass(frozen=True)
class Scaling:
    """float input = pixels * scale + offset; `name` is what the user chose (--scaling)."""

    name: str
    scale: float
    offset: float

    def describe(self) -> str:
        if self.name == "unit":
            return "pixels / 255 (0..1)"
        if self.name == "raw":
            return "pixels as 0..255 floats"
        mean, std = -self.offset / (self.scale * 255), 1 / (self.scale * 255)
        return f"(pixels / 255 - {mean:g}) / {std:g}"


def scaling(value: str) -> Scaling:
    """--scaling: "unit" (pixels / 255, the default), "raw" (0..255), "standard" (Fashion-MNIST's own
    mean and standard deviation), or "MEAN,STD" on the 0..1 scale."""
    if value == "unit":
        return Scaling("unit", 1 / 255, 0.0)
    if value == "raw":
        return Scaling("raw", 1.0, 0.0)
    if value == "standard":
        value = f"{FASHION_MNIST_MEAN},{FASHION_MNIST_STD}"
    try:
        mean, std = (float(v) for v in value.split(","))
    except ValueError:
        mean, std = 0.0, 0.0
    if not std > 0:
        raise FmnistError(
            f"--scaling {value!r}: choose unit (pixels / 255), raw (0..255), standard "
            f"({FASHION_MNIST_MEAN},{FASHION_MNIST_STD}) or MEAN,STD on the 0..1 scale with STD > 0"
        )
    return Scaling(f"{mean:g},{std:g}", 1 / (255 * std), -mean / std)


@dataclass(frozen=True)
class Adapters:
    """What stands between the contract and a user's model: its input (None: it takes the contract's
    uint8 pixels as they are) and its head."""

    layout: tuple[int, ...] | None = None  # one image's dimensions as the model takes them
    scaling: Scaling | None = None
    head: str = "logits"  # a key of HEADS

    @property
    def none(self) -> bool:
        return self.layout is None and self.head == "logits"

    def feed(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 [N, 28, 28, 1] pixels as the user's own model takes them."""
        if self.layout is None or self.scaling is None:
            return pixels
        x = pixels.astype(np.float32) * np.float32(self.scaling.scale) + np.float32(self.scaling.offset)
        return x.reshape(len(pixels), *self.layout)

    def apply_head(self, logits: np.ndarray) -> np.ndarray:
        """What the user's model outputs, from the logits its artifacts return."""
        if self.head in ("softmax", "log_softmax"):
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return np.exp(shifted - log_sum) if self.head == "softmax" else shifted - log_sum
        if self.head == "sigmoid":
            return 1 / (1 + np.exp(-logits))
        return logits

    def lines(self) -> list[str]:
        """What export assumed, one line each, for the terminal."""
        said = []
        if self.layout is not None and self.scaling is not None:
            said.append(
                f"input: uint8 pixels → {self.scaling.describe()}, float32 {LAYOUTS[self.layout]} "
                "(if the model was trained on another scaling, export again with --scaling)"
            )
        if self.head != "logits":
            said.append(f"output: the model ends in a {self.head.replace('_', ' ')}, {HEADS[self.head]}")
        return said

    def to_json(self) -> dict:
        record: dict = {"head": self.head}
        if self.layout is not None and self.scaling is not None:
            record["input"] = {
                "dtype": "float32",
                "shape": ["N", *self.layout],
                "scaling": self.scaling.name,
                "scale": self.scaling.scale,
                "offset": self.scaling.offset,
            }
        return record

    @classmethod
    def from_json(cls, record: dict | None) -> Adapters:
        """The adapters a manifest's source records; none for a manifest written before they existed."""
        record = record or {}
        given = record.get("input")
        if not given:
            return cls(head=record.get("head", "logits"))
        layout = tuple(int(d) for d in given["shape"][1:])
        return cls(layout, Scaling(given["scaling"], given["scale"], given["offset"]), record.get("head", "logits"))
