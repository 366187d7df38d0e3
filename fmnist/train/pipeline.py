"""Input pipeline: tf.data datasets of uint8 images and one-hot labels, with augmentation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
from keras import layers

from fmnist.contract import NUM_CLASSES


class Augment:
    """Random horizontal flip, a shift of up to 2 pixels and, with chance `erase`, a black
    rectangle of 2–25 % of the image (random erasing), per image of a uint8 batch."""

    def __init__(self, seed: int, erase: float = 0.0):
        self.flip = layers.RandomFlip("horizontal", seed=seed)
        self.shift = layers.RandomTranslation(0.07, 0.07, fill_mode="constant", interpolation="nearest", seed=seed + 1)
        self.erase = erase and layers.RandomErasing(
            factor=(erase, erase), scale=(0.02, 0.25), fill_value=0.0, value_range=(0, 255), seed=seed + 2
        )

    def __call__(self, images: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = self.shift(self.flip(tf.cast(images, tf.float32), training=True), training=True)
        if self.erase:
            x = self.erase(x, training=True)
        return tf.cast(x, tf.uint8), targets


def dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    erase: float = 0.0,
    seed: int = 0,
    teacher: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tf.data.Dataset:
    """Batches of (uint8 pixels [B,28,28,1], float32 targets [B,10]) from image and label
    arrays; with a `teacher`, its logits on each batch as augmented follow the labels [B,20]."""
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], np.eye(NUM_CLASSES, dtype=np.float32)[y])).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        ds = ds.map(Augment(seed, erase), num_parallel_calls=tf.data.AUTOTUNE)
    if teacher:
        ds = ds.map(lambda images, labels: (images, tf.concat([labels, teacher(images)], axis=1)))
    return ds.prefetch(tf.data.AUTOTUNE)
