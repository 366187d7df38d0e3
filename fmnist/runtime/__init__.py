"""Runtime: run exported models with onnxruntime or LiteRT, never TensorFlow.

    from fmnist.runtime import Classifier, load_image
    clf = Classifier.load()                          # the shipped int8 model
    label = clf.predict(load_image("shirt.jpg"))[0]
    print(clf.class_names[label])

Photos become Fashion-MNIST pixels in `inputs`; `backends` runs one file.
"""

from fmnist.errors import InputError
from fmnist.runtime.classifier import Classifier
from fmnist.runtime.inputs import load_image, read

__all__ = ["Classifier", "InputError", "load_image", "read"]
