"""Errors that reach the user as one clear sentence and exit code 2."""


class FmnistError(Exception):
    """Bad input or a missing prerequisite: the message says what is wrong and what to do."""


class DataError(FmnistError):
    """Fashion-MNIST files are missing, corrupt or not what they claim to be."""
