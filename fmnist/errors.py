"""Errors that reach the user as one clear sentence and exit code 2, in one tree.

    FmnistError             bad input or a missing prerequisite: what is wrong and what to do
    ├── DataError           Fashion-MNIST files are missing, corrupt or not what they claim
    ├── InputError          a file to classify cannot be read as pixels (the others go on)
    ├── ContractError       a model or artifact does not keep the model contract (contract.py)
    ├── VerificationError   an exported artifact strays from the float model past its limits
    └── MissingExtra        an optional dependency is not installed: names the pip extra

Anything else that escapes is a bug in fmnist, and shows its traceback.
"""

from __future__ import annotations


class FmnistError(Exception):
    """Bad input or a missing prerequisite: the message says what is wrong and what to do."""


class DataError(FmnistError):
    """Fashion-MNIST files are missing, corrupt or not what they claim to be."""


class InputError(FmnistError):
    """A file that cannot be read as Fashion-MNIST pixels."""


class ContractError(FmnistError):
    """A model that does not take uint8 [N, 28, 28, 1] pixels and return [N, 10] logits."""


class VerificationError(FmnistError):
    """An artifact disagrees with the float model beyond its limits; it is not published."""


class MissingExtra(FmnistError):
    """An optional dependency is missing; the message names the extra that installs it."""

    def __init__(self, what: str, module: str | None, extra: str):
        self.extra = extra
        super().__init__(f"{what} needs {module or 'an optional dependency'}: pip install 'fmnist[{extra}]'")
