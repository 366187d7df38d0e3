"""What a training run computes (`TrainConfig`), the architectures and their defaults.

Importing this module imports no TensorFlow, so the command line can check and show every
setting before the slow import.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Arch(str, Enum):
    """The architectures models.py builds."""

    edge = "edge"  # the compact int8-friendly CNN fmnist ships
    cnn = "cnn"  # the seed articles' Conv32-Pool-Conv64-Pool-Dense128 baseline
    mlp = "mlp"  # the seed articles' Flatten-Dense128 baseline


class Strategy(str, Enum):
    """How training is spread over devices (tf.distribute)."""

    auto = "auto"  # mirrored when there are several GPUs, else default
    mirrored = "mirrored"  # every local GPU (every logical CPU when there is none)
    default = "default"  # one device


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run computes."""

    arch: str = "edge"
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.0
    augment: bool = True
    val_fraction: float = 0.1
    limit: int | None = None  # train on a stratified subset of this many images
    seed: int = 0
    strategy: str = "auto"  # a Strategy
    mixed_precision: bool | None = None  # None: on when training on a GPU


# Per-architecture defaults. The seeds' models keep their layers but get the same careful
# training (validation split, AdamW with cosine decay; flips and shifts for the CNN).
DEFAULTS = {
    "edge": TrainConfig(arch="edge", epochs=30, label_smoothing=0.1),
    "cnn": TrainConfig(arch="cnn", epochs=20),
    "mlp": TrainConfig(arch="mlp", epochs=30, augment=False, learning_rate=1e-3),
}
