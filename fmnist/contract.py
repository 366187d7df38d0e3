"""The model contract: what every fmnist model takes and returns, in every format.

- input ``pixels``: uint8 ``[N, 28, 28, 1]`` with a dynamic N, in Fashion-MNIST's convention
  (garment bright on black, 0..255); normalisation lives inside the graph, never in caller code;
- output ``logits``: float32 ``[N, 10]`` (an int8 TFLite model's are quantised: the runtime
  dequantises them with the tensor's own scale and zero point);
- the class names and the contract version travel inside the file, as JSON under
  ``METADATA_KEY`` (ONNX ``metadata_props``, a TFLite metadata entry).

Export checks a Keras model before converting it and the runtime checks every file it opens;
both call `check_signature` and `check_metadata`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fmnist.errors import ContractError

VERSION = 1
INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"
SIDE = 28  # pixels per side
INPUT_SHAPE = (SIDE, SIDE, 1)  # one image, NHWC
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
NUM_CLASSES = len(CLASS_NAMES)
METADATA_KEY = "fmnist"
GOLDEN_FILE = "golden.npz"  # beside the artifacts: test images and what each computed at export


def metadata(source_sha256: str, precision: str) -> dict:
    """The JSON that travels inside each artifact."""
    return {
        "contract": VERSION,
        "class_names": list(CLASS_NAMES),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "precision": precision,
        "source_sha256": source_sha256,
    }


def _dims(shape: Sequence) -> str:
    return ", ".join(str(d) if isinstance(d, int) and d >= 0 else "N" for d in shape)


def check_signature(
    where: object, inputs: int, outputs: int, dtype: str, shape: Sequence, output_shape: Sequence
) -> None:
    """Refuse a model that does not take uint8 [N, 28, 28, 1] and return [N, 10].

    Dimensions that are unknown (None, -1 or a name) read as N.
    """
    if inputs != 1 or outputs != 1:
        raise ContractError(f"{where}: has {inputs} inputs and {outputs} outputs; an fmnist model has one of each")
    if dtype != "uint8" or tuple(shape)[1:] != INPUT_SHAPE or tuple(output_shape)[1:] != (NUM_CLASSES,):
        raise ContractError(
            f"{where}: takes {dtype} [{_dims(shape)}] and returns [{_dims(output_shape)}]; an fmnist model "
            f"takes uint8 [N, {SIDE}, {SIDE}, 1] pixels and returns [N, {NUM_CLASSES}] logits"
        )


def check_metadata(where: object, meta: Mapping) -> tuple[str, ...]:
    """The class names of a model's metadata, after checking its contract version."""
    version = meta.get("contract", VERSION)
    if version != VERSION:
        raise ContractError(f"{where}: model contract {version}; this fmnist reads contract {VERSION}")
    names = meta.get("class_names")
    if not (isinstance(names, list) and len(names) == NUM_CLASSES and all(isinstance(n, str) for n in names)):
        raise ContractError(
            f"{where}: no class names in its metadata or in a manifest.json beside it; export it with `fmnist export`"
        )
    return tuple(names)
