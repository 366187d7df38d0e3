"""fmnist: train, export, run and benchmark Fashion-MNIST classifiers on the edge."""

__version__ = "0.1.0"

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CONTRACT_VERSION = 1  # of the model contract every artifact keeps (uint8 pixels in, logits out)

from fmnist.errors import FmnistError  # noqa: E402

__all__ = ["CLASS_NAMES", "CONTRACT_VERSION", "FmnistError", "__version__"]
