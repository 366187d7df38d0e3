"""The training recipe's options: random erasing, a moving average of the weights, distillation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnist.data import stratified_split, stratified_subset


def test_random_erasing_blanks_one_rectangle_and_leaves_the_rest(real_data):
    import tensorflow as tf

    from fmnist.train.pipeline import Augment

    images = tf.constant(real_data.x_test[:64, ..., None])
    plain, _ = Augment(seed=3)(images, images)
    erased, _ = Augment(seed=3, erase=1.0)(images, images)
    plain, erased = plain.numpy()[..., 0], erased.numpy()[..., 0]
    changed = plain != erased
    assert np.all(erased[changed] == 0)  # only blanked pixels differ: flips and shifts are the same
    assert changed.reshape(64, -1).any(1).mean() > 0.8  # nearly every image lost a part of the garment
    for mask in changed[changed.reshape(64, -1).any(1)]:  # one rectangle, within 2–25 % of the image
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) <= 0.25 * 784 + 28


def test_distillation_loss_mixes_labels_and_softened_teacher():
    import keras

    from fmnist.train import distill

    labels = np.eye(10, dtype=np.float32)[[3, 7]]
    student = np.array([[0.0] * 3 + [4.0] + [0.0] * 6, [1.0] * 10], np.float32)
    teacher = np.array([[0.0] * 3 + [2.0] + [0.0] * 6, [0.0] * 7 + [3.0] + [0.0] * 2], np.float32)
    both = np.concatenate([labels, teacher], axis=1)
    hard = keras.losses.categorical_crossentropy(labels, student, from_logits=True).numpy()
    assert np.allclose(distill.loss(0.0, 0.5, 4.0)(labels, student).numpy(), hard)  # no teacher: the labels only
    assert np.allclose(distill.loss(0.0, 0.0, 4.0)(both, student).numpy(), hard)
    soft = distill.loss(0.0, 1.0, 2.0)(both, student).numpy()
    p, q = keras.ops.softmax(teacher / 2).numpy(), keras.ops.softmax(student / 2).numpy()
    assert np.allclose(soft, 4 * (p * np.log(p / q)).sum(1), atol=1e-6)  # T² · KL(teacher ‖ student)
    assert distill.loss(0.0, 1.0, 2.0)(np.concatenate([labels, student], axis=1), student).numpy() == pytest.approx(0)
    assert distill.accuracy(both, student).numpy().tolist() == [1.0, 0.0]


def test_the_teacher_sees_each_batch_as_the_student_does(real_data):
    import tensorflow as tf

    from fmnist.train import pipeline

    def teacher(images):  # each "logit" is the image's pixel sum, which erasing changes
        return tf.tile(tf.reduce_sum(tf.cast(images, tf.float32), axis=[1, 2, 3])[:, None], [1, 10])

    x, y = real_data.x_test[:256], real_data.y_test[:256]
    batches = pipeline.dataset(x, y, 64, shuffle=True, augment=True, erase=1.0, teacher=teacher)
    for images, targets in batches:
        images, targets = images.numpy(), targets.numpy()
        assert targets.shape == (64, 20) and np.all(targets[:, :10].sum(1) == 1)  # one-hot labels, then the teacher
        assert np.array_equal(targets[:, 10], images.reshape(64, -1).sum(1))  # on the augmented images
    assert not np.isin(targets[:, 10], x.reshape(256, -1).sum(1)).all()  # which are not the originals


@pytest.mark.slow
def test_the_moving_average_is_what_is_validated_and_saved(real_data, tmp_path):
    import keras
    from rich.console import Console

    from fmnist.train.config import TrainConfig
    from fmnist.train.trainer import train

    config = TrainConfig(epochs=2, limit=1000, batch_size=50, ema=0.9, erase=0.5)
    metrics = train(config, tmp_path / "ema", console=Console(quiet=True))
    history = json.loads((tmp_path / "ema" / "history.json").read_text())
    best = max(history, key=lambda r: r["val_accuracy"])
    x, y = (a[stratified_subset(real_data.y_train, 1000, 0)] for a in (real_data.x_train, real_data.y_train))
    _, held_out = stratified_split(y, 0.1, 0)
    model = keras.models.load_model(tmp_path / "ema" / "model.keras")
    predicted = model.predict(x[held_out][..., None], verbose=0).argmax(1)
    assert float((predicted == y[held_out]).mean()) == pytest.approx(best["val_accuracy"], abs=1e-6)
    assert metrics["config"]["ema"] == 0.9 and metrics["val_accuracy"] == best["val_accuracy"]


@pytest.mark.slow
def test_a_student_learns_from_its_teacher(tiny_run, tmp_path):
    from rich.console import Console

    from fmnist.train.config import TrainConfig
    from fmnist.train.trainer import train

    teacher, taught = tiny_run
    config = TrainConfig(epochs=3, limit=1000, batch_size=50, teachers=(str(teacher),), distill=0.7)
    metrics = train(config, tmp_path / "student", console=Console(quiet=True))
    history = json.loads((tmp_path / "student" / "history.json").read_text())
    losses = [r["loss"] for r in history]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.8 * losses[0]  # the mixed loss goes down
    assert metrics["teachers"] == [{"run": str(teacher), "arch": "edge", "test_accuracy": taught["test_accuracy"]}]
    assert metrics["test_accuracy"] >= 0.72  # 73.9 and 74.6 % measured: three epochs on 900 images


@pytest.mark.slow
def test_a_teacher_ensemble_answers_the_mean_of_its_members_logits(tiny_run, real_data, tmp_path):
    import keras

    from fmnist.train import distill

    first = tiny_run[0]
    second = tmp_path / "second"  # another teacher: the first with its weights scaled
    second.mkdir()
    model = keras.models.load_model(first / "model.keras")
    members = [model, keras.models.clone_model(model)]
    members[1].set_weights([w * 1.1 for w in model.get_weights()])
    members[1].save(second / "model.keras")
    images = real_data.x_test[:16, ..., None]
    expected = np.mean([m(images, training=False) for m in members], axis=0)
    np.testing.assert_allclose(np.asarray(distill.teachers([str(first), str(second)])(images)), expected, atol=1e-5)
    assert not np.allclose(expected, members[0](images, training=False), atol=1e-2)  # the second one counts
    assert [r["run"] for r in distill.records([str(first), str(second)])] == [str(first), str(second)]
