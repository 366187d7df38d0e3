"""fmnist: train, export, run and benchmark Fashion-MNIST classifiers on the edge.

Stages, one package each, data flowing one way: `data` → `train` → `export` → `runtime`
→ `bench`. `contract` says what every model takes and returns, `formats` lists every
artifact format, `errors` holds the exception tree.
"""

from fmnist.contract import CLASS_NAMES
from fmnist.errors import FmnistError

__version__ = "0.1.0"

__all__ = ["CLASS_NAMES", "FmnistError", "__version__"]
