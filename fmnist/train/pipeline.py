"""Input pipeline: tf.data datasets of uint8 images and one-hot labels, with augmentation."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import layers

from fmnist.contract import NUM_CLASSES


class Augment:
    """Random horizontal flip and a shift of up to 2 pixels per image, on uint8 batches."""

    def __init__(self, seed: int):
        self.flip = layers.RandomFlip("horizontal", seed=seed)
        self.shift = layers.RandomTranslation(0.07, 0.07, fill_mode="constant", interpolation="nearest", seed=seed + 1)

    def __call__(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = self.shift(self.flip(tf.cast(images, tf.float32), training=True), training=True)
        return tf.cast(x, tf.uint8), labels


def dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of (uint8 pixels [B,28,28,1], one-hot float32 labels [B,10]) from arrays."""
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], np.eye(NUM_CLASSES, dtype=np.float32)[y])).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        ds = ds.map(Augment(seed), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
