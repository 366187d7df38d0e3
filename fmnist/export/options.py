"""What an export is asked to do (`ExportOptions`) and what each converter is given (`Job`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmnist.formats import Limits

if TYPE_CHECKING:
    import numpy as np


class CalibrationMethod(str, Enum):
    """How onnxruntime picks int8 ranges from the calibration images (TFLite always uses min-max)."""

    minmax = "minmax"
    entropy = "entropy"
    percentile = "percentile"


CALIBRATION_SEED = 0  # which training images calibrate int8 models


@dataclass(frozen=True)
class ExportOptions:
    calibration_size: int = 512  # training images, stratified by class
    calibration_method: CalibrationMethod = CalibrationMethod.minmax
    opset: int = 13  # per-channel QDQ needs 13; onnxruntime has run opset 13 since 1.6
    limits: Limits = Limits()  # each limit set here replaces the formats' own where it applies
    scaling: str = "unit"  # what a model of float input expects (`fmnist.adapters.scaling`): pixels / 255


@dataclass(frozen=True)
class Job:
    """One converter call: the source model, where to write, and what the format needs."""

    model: Any  # the source model adapted to the contract: a Keras model, or an onnx.ModelProto
    target: Path  # the file to write
    metadata: dict  # the contract metadata to embed (fmnist.contract.metadata)
    options: ExportOptions
    calibration: np.ndarray | None = None  # uint8 [N, 28, 28, 1] training images, for int8 formats
    source: Path | None = None  # the file of the format this one is made from
