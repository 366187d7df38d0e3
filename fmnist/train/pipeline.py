"""Input pipeline: a seeded stratified validation split and tf.data datasets."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import layers


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with `fraction` (at least one) of every class held out, by `seed`."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        held.append(members[: max(1, int(round(len(members) * fraction)))])
    held_out = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(y)), held_out)
    return keep, held_out


def stratified_subset(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of `size` samples spread evenly over the classes, chosen by `seed`."""
    if size >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    counts = np.full(len(classes), size // len(classes))
    counts[: size % len(classes)] += 1
    picks = [rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, counts)]
    return np.sort(np.concatenate(picks))


class Augment:
    """Random horizontal flip and a shift of up to 2 pixels per image, on uint8 batches."""

    def __init__(self, seed: int):
        self.flip = layers.RandomFlip("horizontal", seed=seed)
        self.shift = layers.RandomTranslation(
            0.07, 0.07, fill_mode="constant", interpolation="nearest", seed=seed + 1
        )

    def __call__(self, images, labels):
        x = self.shift(self.flip(tf.cast(images, tf.float32), training=True), training=True)
        return tf.cast(x, tf.uint8), labels


def dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, *,
    shuffle: bool = False, augment: bool = False, seed: int = 0,
) -> tf.data.Dataset:
    """Batches of (uint8 pixels [B,28,28,1], one-hot float32 labels [B,10]) from arrays."""
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], np.eye(10, dtype=np.float32)[y])).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        ds = ds.map(Augment(seed), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
