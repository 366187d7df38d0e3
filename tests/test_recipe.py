"""The training recipe's options: random erasing, a moving average of the weights, distillation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnist.data import stratified_split, stratified_subset


def test_random_erasing_blanks_one_rectangle_and_leaves_the_rest(real_data):
    import keras

    from fmnist.train.pipeline import Augment

    images = real_data.x_test[:64, ..., None]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(Augment(seed=3, erase=1.0)(images)), images)  # inference
    plain, erased = (keras.ops.convert_to_numpy(Augment(3, erase)(images, training=True))[..., 0] for erase in (0, 1))
    assert plain.dtype == np.uint8 and not np.array_equal(plain, images[..., 0])  # flipped and shifted
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
    both = np.concatenate([student, teacher], axis=1)  # what the training model returns: student, then teachers
    hard = keras.losses.categorical_crossentropy(labels, student, from_logits=True).numpy()
    assert np.allclose(distill.loss(0.0, 0.5, 4.0)(labels, student).numpy(), hard)  # no teacher: the labels only
    assert np.allclose(distill.loss(0.0, 0.0, 4.0)(labels, both).numpy(), hard)
    soft = distill.loss(0.0, 1.0, 2.0)(labels, both).numpy()
    p, q = keras.ops.softmax(teacher / 2).numpy(), keras.ops.softmax(student / 2).numpy()
    assert np.allclose(soft, 4 * (p * np.log(p / q)).sum(1), atol=1e-6)  # T² · KL(teacher ‖ student)
    assert distill.loss(0.0, 1.0, 2.0)(labels, np.concatenate([student, student], axis=1)).numpy() == pytest.approx(0)
    assert distill.accuracy(labels, both).numpy().tolist() == [1.0, 0.0]


def test_the_teacher_sees_each_batch_as_the_student_does(real_data):
    import keras

    from fmnist.train import pipeline

    def pixel_sums():  # each "logit" is the image's pixel sum, which erasing and shifting change
        images = keras.Input((28, 28, 1), dtype="uint8")
        sums = keras.layers.Lambda(lambda x: keras.ops.sum(keras.ops.cast(x, "float32"), axis=(1, 2)))(images)
        return keras.Model(images, keras.layers.Lambda(lambda s: keras.ops.tile(s, (1, 10)))(sums))

    x, y = real_data.x_test[:256], real_data.y_test[:256]
    batches = pipeline.Batches(x, y, 64, shuffle=True)
    taught = pipeline.Taught(pixel_sums(), pipeline.Augment(0, erase=1.0), [pixel_sums()])
    for i in range(len(batches)):
        images, labels = batches[i]
        assert images.shape == (64, 28, 28, 1) and labels.shape == (64, 10) and np.all(labels.sum(1) == 1)
        outputs = keras.ops.convert_to_numpy(taught(images, training=True))
        assert outputs.shape == (64, 20) and np.array_equal(outputs[:, 0], outputs[:, 10])  # the same augmented batch
        assert not np.isin(outputs[:, 0], images.reshape(64, -1).sum(1)).all()  # which is not the original
    plain = keras.ops.convert_to_numpy(taught(images))  # in inference: the student alone, on the image as it is
    np.testing.assert_array_equal(plain[:, 0], images.reshape(64, -1).sum(1))


def test_batches_cover_every_image_once_an_epoch_in_an_order_set_by_seed_and_epoch(real_data):
    from fmnist.train import pipeline

    x, y = real_data.x_test[:100], real_data.y_test[:100]
    batches = pipeline.Batches(x, y, 32, shuffle=True, seed=5)
    assert len(batches) == 4 and [len(batches[i][0]) for i in range(4)] == [32, 32, 32, 4]

    def epoch(b):
        return np.concatenate([b[i][0] for i in range(len(b))]).reshape(100, -1)

    first = epoch(batches)
    batches.on_epoch_end()
    second = epoch(batches)
    assert sorted(map(bytes, first)) == sorted(map(bytes, second)) == sorted(map(bytes, x.reshape(100, -1)))
    assert not np.array_equal(first, second)  # reshuffled
    resumed = pipeline.Batches(x, y, 32, shuffle=True, seed=5)
    resumed.start_at(1)
    np.testing.assert_array_equal(epoch(resumed), second)  # a resumed run sees the order it would have seen
    np.testing.assert_array_equal(epoch(pipeline.Batches(x, y, 32)), x.reshape(100, -1))  # unshuffled: as given


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
    assert (
        metrics["test_accuracy"] >= 0.7
    )  # 71.7 % measured (74 % with the earlier tf.data pipeline): 3 epochs, 900 images


@pytest.mark.slow
def test_a_teacher_ensemble_answers_the_mean_of_its_members_logits(tiny_run, real_data, tmp_path):
    import keras

    from fmnist.train import distill, pipeline

    first = tiny_run[0]
    second = tmp_path / "second"  # another teacher: the first with its weights scaled
    second.mkdir()
    model = keras.models.load_model(first / "model.keras")
    members = [model, keras.models.clone_model(model)]
    members[1].set_weights([w * 1.1 for w in model.get_weights()])
    members[1].save(second / "model.keras")
    images = real_data.x_test[:16, ..., None]
    expected = np.mean([m(images, training=False) for m in members], axis=0)
    taught = pipeline.Taught(members[0], None, distill.teachers([str(first), str(second)]))
    outputs = keras.ops.convert_to_numpy(taught(images, training=True))  # the student's logits, then the teachers'
    np.testing.assert_allclose(outputs[:, 10:], expected, atol=1e-5)
    assert not np.allclose(expected, members[0](images, training=False), atol=1e-2)  # the second one counts
    assert [r["run"] for r in distill.records([str(first), str(second)])] == [str(first), str(second)]


def test_a_shift_moves_each_image_by_at_most_two_whole_pixels_and_fills_with_black():
    import keras

    from fmnist.train.pipeline import Shift

    square = np.zeros((400, 28, 28, 1), np.float32)
    square[:, 10:18, 10:18] = np.arange(64, dtype=np.float32).reshape(8, 8)[..., None] + 1  # a patterned square
    moved = keras.ops.convert_to_numpy(Shift(0.07, seed=0)(square))[..., 0]
    seen = set()
    for image in moved:
        rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
        dy, dx = int(rows[0]) - 10, int(cols[0]) - 10
        np.testing.assert_array_equal(image, np.roll(square[0, ..., 0], (dy, dx), axis=(0, 1)))  # moved, not blurred
        seen.add((dy, dx))
    assert seen == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}  # 0.07 × 28 = 1.96, rounded
    edge = np.zeros((400, 28, 28, 1), np.float32)
    edge[:, :, 0] = 1  # the first column: a shift left drops it, one up or down drops 1 or 2 of its pixels
    assert set(keras.ops.convert_to_numpy(Shift(0.07, seed=1)(edge)).sum(axis=(1, 2, 3)).tolist()) == {0, 26, 27, 28}


def test_a_moving_average_too_slow_for_the_run_is_refused_before_anything_is_written(tmp_path):
    """Keras's average starts from the untrained weights: 43 steps at 0.999 would save a model at chance."""
    from rich.console import Console

    from fmnist.errors import FmnistError
    from fmnist.train.config import TrainConfig
    from fmnist.train.trainer import train

    short = TrainConfig(epochs=1, limit=3000, batch_size=64, ema=0.999)
    with pytest.raises(FmnistError) as refused:
        train(short, tmp_path / "short", console=Console(quiet=True))
    assert str(refused.value) == (
        "--ema 0.999 averages over about 1,000 steps and this run has 43: the saved model would still be 96% its "
        "untrained weights; train longer or use --ema 0.932 or less"
    )
    assert not (tmp_path / "short").exists()
    TrainConfig(epochs=1, limit=3000, batch_size=64, ema=0.932).check_ema(3000)  # 5 % left at most: trained
    TrainConfig(epochs=30, ema=0.999).check_ema()  # the shipped recipe's 12,660 steps
