"""What a training run computes (`TrainConfig`), the architectures and their defaults.

Importing this module imports no TensorFlow, so the command line can check and show every
setting before the slow import.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from enum import Enum

from fmnist.errors import FmnistError

TRAIN_IMAGES = 60_000  # Fashion-MNIST's training set, as every verified copy holds it
EMA_LEFT = 0.05  # the most of the untrained weights a run's moving average may keep at its end


class Arch(str, Enum):
    """The architectures models.py builds."""

    edge = "edge"  # the compact int8-friendly CNN fmnist ships
    edge_w96 = "edge-w96"  # the edge family's variants: the frontier of accuracy against latency
    edge_w48 = "edge-w48"
    edge_n8 = "edge-n8"
    edge_deep = "edge-deep"
    edge_gap = "edge-gap"
    edge_sep = "edge-sep"
    edge_s2 = "edge-s2"  # a stride-2 first block instead of a pooled one
    edge_s2w24 = "edge-s2w24"
    wide = "wide"  # a larger member of the family, to teach the others
    cnn = "cnn"  # the seed articles' Conv32-Pool-Conv64-Pool-Dense128 baseline
    mlp = "mlp"  # the seed articles' Flatten-Dense128 baseline


class Backend(str, Enum):
    """The Keras backend that trains (fmnist.train.backend)."""

    auto = "auto"  # $KERAS_BACKEND, else TensorFlow when installed, else JAX
    tensorflow = "tensorflow"
    jax = "jax"


class Strategy(str, Enum):
    """How training is spread over devices."""

    auto = "auto"  # mirrored when there are several GPUs (TensorFlow), else default
    mirrored = "mirrored"  # TensorFlow: every local GPU (every logical CPU when there is none)
    multi_worker = "multi-worker"  # JAX: several processes, data parallel (keras.distribution)
    default = "default"  # one device


class Precision(str, Enum):
    """What training computes in (the stored model is float32 either way)."""

    auto = "auto"  # mixed on a GPU, else float32
    mixed = "mixed"  # float16 compute, float32 weights
    float32 = "float32"


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
    erase: float = 0.0  # chance that a training image loses a random rectangle (random erasing)
    ema: float = 0.0  # momentum of the weights' moving average, which is validated and saved; 0: off
    teachers: tuple[str, ...] = ()  # run folders whose models' averaged logits teach this one
    distill: float = 0.5  # weight of the teachers' softened logits in the loss; the labels get the rest
    temperature: float = 4.0  # softens both sides' logits for distillation

    def record(self) -> dict:
        """The settings as JSON stores them (tuples as lists): what config.json holds."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def check_ema(self, images: int = TRAIN_IMAGES) -> None:
        """Refuse a moving average too slow for the run: Keras's starts from the untrained weights, and
        after the run's steps more than `EMA_LEFT` of it would still be theirs (a model near chance)."""
        if not self.ema:
            return
        steps = self.epochs * math.ceil(round(images * (1 - self.val_fraction)) / self.batch_size)
        left = self.ema**steps
        if left > EMA_LEFT:
            fits = math.floor(EMA_LEFT ** (1 / steps) * 1000) / 1000
            raise FmnistError(
                f"--ema {self.ema:g} averages over about {1 / (1 - self.ema):,.0f} steps and this run has {steps:,}: "
                f"the saved model would still be {left:.0%} its untrained weights; train longer or use --ema {fits:g}"
                " or less"
            )


# Per-architecture defaults. The seeds' models keep their layers but get the same careful
# training (validation split, AdamW with cosine decay; flips and shifts for the CNN); the
# edge family adds label smoothing. Random erasing, the weights' moving average and
# distillation are options: none of them gained accuracy on its own in 30 or 60 epochs
# (benchmarks/results/frontier/ablation.md).
EDGE = TrainConfig(arch="edge", epochs=30, label_smoothing=0.1)
SEEDS = {
    "cnn": TrainConfig(arch="cnn", epochs=20),
    "mlp": TrainConfig(arch="mlp", epochs=30, augment=False, learning_rate=1e-3),
}


def defaults(arch: str) -> TrainConfig:
    """The settings `fmnist train --arch ARCH` starts from."""
    return SEEDS.get(arch) or replace(EDGE, arch=arch)
