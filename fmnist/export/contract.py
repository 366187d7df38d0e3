"""What every exported artifact promises, and the check that a Keras model can keep it."""

from __future__ import annotations

from pathlib import Path

from fmnist import CLASS_NAMES, CONTRACT_VERSION
from fmnist.errors import FmnistError

DEFAULT_OPSET = 13  # per-channel QDQ needs 13; onnxruntime has run opset 13 since 1.6
INPUT_NAME = "pixels"  # uint8 [N, 28, 28, 1], garment bright on black, 0..255
OUTPUT_NAME = "logits"  # float32 [N, 10] (int8 TFLite: quantised, dequantised by the runtime)


def metadata(source_sha256: str, precision: str) -> dict:
    """The JSON that travels inside each artifact."""
    return {
        "contract": CONTRACT_VERSION,
        "class_names": list(CLASS_NAMES),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "precision": precision,
        "source_sha256": source_sha256,
    }


def check_classifier(model, source: Path) -> None:
    """Refuse a Keras model that is not a [N,28,28,1] → [N,10] classifier."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise FmnistError(f"{source}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; expected one of each")
    in_shape, out_shape = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
    if in_shape[1:] != (28, 28, 1) or out_shape[1:] != (len(CLASS_NAMES),):
        raise FmnistError(
            f"{source}: maps {list(in_shape)} to {list(out_shape)}; an fmnist model maps "
            "[N, 28, 28, 1] pixels to [N, 10] class logits"
        )
