"""TensorFlow's basic classification tutorial, as its article writes it, on the dataset fmnist finds.

    python benchmarks/tutorial_model.py my_model.keras

The tutorial loads the data with keras.datasets.fashion_mnist (a download); this reads the
same images with `fmnist.data`, which also finds Debian's dataset-fashion-mnist package.
"""

import sys

import tensorflow as tf

from fmnist import data

dataset = data.load()
train_images, train_labels = dataset.x_train / 255.0, dataset.y_train
test_images, test_labels = dataset.x_test / 255.0, dataset.y_test

model = tf.keras.Sequential(
    [
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10),
    ]
)
model.compile(
    optimizer="adam",
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
model.fit(train_images, train_labels, epochs=10, verbose=2)
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)
print("\nTest accuracy:", test_acc)
model.save(sys.argv[1] if len(sys.argv) > 1 else "my_model.keras")
