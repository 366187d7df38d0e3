"""`fmnist export`: every format of the registry, its verification limits as options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fmnist import adapters, formats
from fmnist.cli import views
from fmnist.cli.common import DataDir, RunsDir, Verbose, command_line, err, needs_extra, user_errors
from fmnist.export.options import CalibrationMethod, ExportOptions

DEFAULTS = ExportOptions()
ALL = "all but " + " and ".join(f.name for f in formats.FORMATS.values() if not f.in_all)


def export(
    model: Annotated[
        Path | None,
        typer.Argument(
            help="A run folder, or your own model: a .keras, .h5 or .onnx file (default: the newest run); "
            "or an export folder, to add the formats made from its artifacts (tflm, c).",
            show_default=False,
        ),
    ] = None,
    format_names: Annotated[
        list[str],
        typer.Option("--format", "-f", help=f"{formats.names()} or all ({ALL}); repeat or separate with commas."),
    ] = ["all"],  # noqa: B006 -- typer reads it, never mutates it
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output folder (default: RUN_DIR/export, NAME-export/ beside a model file, or the export "
            "folder given).",
            show_default=False,
        ),
    ] = None,
    calibration_size: Annotated[
        int, typer.Option(min=10, help="Training images to calibrate int8 on (stratified, seeded).")
    ] = DEFAULTS.calibration_size,
    calibration_method: Annotated[
        CalibrationMethod, typer.Option(help="ONNX int8 calibration (TFLite uses minmax).")
    ] = DEFAULTS.calibration_method,
    opset: Annotated[int, typer.Option(min=13, help="ONNX opset.")] = DEFAULTS.opset,
    scaling: Annotated[
        str,
        typer.Option(
            help="What a model of float input was trained on: unit (pixels / 255), raw (0..255), standard "
            f"(mean {adapters.FASHION_MNIST_MEAN}, std {adapters.FASHION_MNIST_STD}) or MEAN,STD on the 0..1 scale."
        ),
    ] = DEFAULTS.scaling,
    min_agreement: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help=f"Float formats: least top-1 agreement with Keras (default: {formats.FLOAT_LIMITS.min_agreement}).",
            show_default=False,
        ),
    ] = None,
    max_logit_delta: Annotated[
        float | None,
        typer.Option(
            min=0,
            help=f"Float formats: largest |Δ logit| (default: {formats.FLOAT_LIMITS.max_logit_delta}).",
            show_default=False,
        ),
    ] = None,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="int8 formats: accuracy they may lose, as a fraction "
            f"(default: {formats.INT8_LIMITS.max_accuracy_drop}).",
            show_default=False,
        ),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Export a trained model, or your own Keras or ONNX one, to ONNX and TFLite (float and int8), each
    verified on the test set against the model as given."""
    from fmnist import quiet
    from fmnist.cli.stages import Stages

    with user_errors():
        from fmnist import data, folders

        formats.select(format_names)  # refuse a bad name or scaling before TensorFlow's slow import
        adapters.scaling(scaling)
        data.find(data_dir)
        quiet.silence(verbose)
        with needs_extra("export"):
            from fmnist.export.exporter import export as run_export

        source = folders.export_source(model, runs_dir)
        out = out_dir or folders.export_folder(source)
        options = ExportOptions(
            calibration_size,
            calibration_method,
            opset,
            formats.Limits(min_agreement, max_logit_delta, max_accuracy_drop),
            scaling,
        )
        with needs_extra("export"), Stages(err) as stages:
            manifest = run_export(
                source,
                format_names,
                out,
                options,
                data_dir=data_dir,
                progress=stages,
                notice=lambda line: err.print(line, markup=False, highlight=False),
                command=command_line(),
            )
    views.artifacts(manifest, out)
