"""Input pipeline: tf.data datasets of uint8 images and one-hot labels, with augmentation."""

from __future__ import annotations

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


def targets(y: np.ndarray, teacher_logits: np.ndarray | None = None) -> np.ndarray:
    """float32 one-hot labels [N, 10], followed by the teachers' logits [N, 10] when given."""
    one_hot = np.eye(NUM_CLASSES, dtype=np.float32)[y]
    return one_hot if teacher_logits is None else np.concatenate([one_hot, teacher_logits], axis=1)


def dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    erase: float = 0.0,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of (uint8 pixels [B,28,28,1], float32 targets [B,...]) from arrays; `y` holds
    labels, or targets already made by `targets`."""
    y = targets(y) if y.ndim == 1 else y
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        ds = ds.map(Augment(seed, erase), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
