"""`fmnist check`: the export's golden vectors, run in the installed runtime (on the device)."""

from __future__ import annotations

import typer

from fmnist.cli.common import ModelArgument, err, out, user_errors


def check(
    model: ModelArgument = None,
) -> None:
    """Run each artifact on the golden images its export kept: exit 1 if a label changed or a
    logit moved by more than its tolerance (one quantisation step for int8)."""
    from fmnist.errors import FmnistError
    from fmnist.runtime.check import check as run_check

    with user_errors():
        outcomes = run_check(model)
        if all(o.skipped for o in outcomes):
            raise FmnistError("nothing to check: " + "; ".join(f"{o.format}: {o.skipped}" for o in outcomes))
    for o in outcomes:
        if o.skipped:
            err.print(f"{o.format}: skipped, {o.skipped}", markup=False, highlight=False)
        elif o.problem:
            out.print(f"[red]FAIL[/] {o.format}: {o.problem} ({o.file})", highlight=False)
        else:
            verdict = "[green]ok[/]" if o.passed else "[red]FAIL[/]"
            labels = f"{len(o.changed)} labels changed: {'; '.join(o.changed)}" if o.changed else "every label the same"
            out.print(
                f"{verdict} {o.format} ({o.runtime}): {labels}; largest |Δ logit| {o.max_delta:.3g} "
                f"(tolerance {o.tolerance:.3g})",
                highlight=False,
            )
    ran = [o for o in outcomes if not o.skipped]
    folder = ran[0].file.parent
    if all(o.passed for o in ran):
        artifacts = "1 artifact" if len(ran) == 1 else f"{len(ran)} artifacts"
        out.print(f"check passed: {artifacts} in {folder} compute here what their export verified")
    else:
        err.print(
            f"check failed: {sum(not o.passed for o in ran)} of {len(ran)} artifacts in {folder}", highlight=False
        )
        raise typer.Exit(1)
