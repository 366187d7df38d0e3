"""Training input on any Keras backend: seeded batches of uint8 images and one-hot labels, and the
model `fit` trains, which augments each batch and asks the teachers inside the training step (on
the device, with Keras layers and `keras.ops`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from fmnist.contract import NUM_CLASSES


class Batches(keras.utils.PyDataset):
    """(uint8 pixels [B,28,28,1], float32 one-hot labels [B,10]); with `shuffle`, each epoch's order
    is a permutation drawn from (seed, epoch), so a resumed run sees the order it would have seen.
    `whole`: full batches only (the images past the last are left out), as processes that train
    together need."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        whole: bool = False,
    ):
        super().__init__()
        self.x, self.labels = x[..., None], np.eye(NUM_CLASSES, dtype=np.float32)[y]
        self.batch_size, self.shuffle, self.seed, self.whole = batch_size, shuffle, seed, whole
        self.epoch = 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def start_at(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = self._order()

    def __len__(self) -> int:
        return (math.floor if self.whole else math.ceil)(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[chosen], self.labels[chosen]

    def on_epoch_end(self) -> None:
        self.start_at(self.epoch + 1)


class Shift(layers.Layer):
    """Move each image of a float batch [B,28,28,1] by whole pixels, up to `fraction` of its side
    each way (drawn uniformly, then rounded: nearest-neighbour), filling with black. Two batched
    matrix products with one-hot shift matrices: cheap on every backend, where an affine warp
    (Keras's RandomTranslation) is slow on JAX's CPU."""

    def __init__(self, fraction: float, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.fraction = fraction
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any) -> Any:
        side = images.shape[1]
        limit = self.fraction * side
        offsets = ops.round(keras.random.uniform((ops.shape(images)[0], 2), -limit, limit, seed=self.generator))
        index = ops.arange(side, dtype="float32")

        def moves(offset: Any) -> Any:  # [B, side, side]: row i takes source row i − offset
            return ops.cast(ops.equal(index[None, None, :], index[None, :, None] - offset[:, None, None]), "float32")

        moved = ops.matmul(
            ops.matmul(moves(offsets[:, 0]), images[..., 0]), ops.transpose(moves(offsets[:, 1]), (0, 2, 1))
        )
        return moved[..., None]


class Augment(layers.Layer):
    """In training only: a random horizontal flip, a shift of up to 2 pixels and, with chance `erase`,
    a black rectangle of 2–25 % of the image (random erasing), per image of a uint8 batch."""

    def __init__(self, seed: int, erase: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.flip = layers.RandomFlip("horizontal", seed=seed)
        self.shift = Shift(0.07, seed=seed + 1)
        self.erasing = (
            layers.RandomErasing(
                factor=(erase, erase), scale=(0.02, 0.25), fill_value=0.0, value_range=(0, 255), seed=seed + 2
            )
            if erase
            else None
        )

    def build(self, input_shape: Any) -> None:
        for layer in (self.flip, self.shift, self.erasing):
            if layer is not None:
                layer.build(input_shape)
        super().build(input_shape)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images
        x = self.shift(self.flip(ops.cast(images, "float32"), training=True))
        if self.erasing is not None:
            x = self.erasing(x, training=True)
        return ops.cast(x, "uint8")


class Taught(keras.Model):
    """What `fit` trains: the student behind the augmentation. With teachers (frozen), their mean
    logits on the same augmented batch follow the student's in training: [B, 20]."""

    def __init__(self, student: keras.Model, augment: Augment | None, teachers: Sequence[keras.Model] = ()):
        super().__init__()
        self.student, self.augment, self.teachers = student, augment, list(teachers)
        for teacher in self.teachers:
            teacher.trainable = False

    def call(self, images: Any, training: bool = False) -> Any:
        if self.augment is not None:
            images = self.augment(images, training=training)
        logits = self.student(images, training=training)
        if not (training and self.teachers):
            return logits
        taught = ops.mean(ops.stack([ops.cast(t(images, training=False), "float32") for t in self.teachers]), axis=0)
        return ops.concatenate([ops.cast(logits, "float32"), ops.stop_gradient(taught)], axis=1)
