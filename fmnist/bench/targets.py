"""What `fmnist bench` measures: the artifacts of export folders, run folders or loose files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fmnist import folders, formats
from fmnist.adapters import Adapters
from fmnist.errors import FmnistError


@dataclass
class Group:
    """The artifacts of one model (an export folder, or loose files) and the model they were made from."""

    name: str
    artifacts: dict[str, Path] = field(default_factory=dict)  # row label -> file
    keras: Path | None = None
    onnx: Path | None = None  # a user's ONNX model the artifacts were made from
    adapters: Adapters = field(default_factory=Adapters)  # how the source model is fed the test images
    macs: int | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # row label -> why it is not measured here

    def runnable(self) -> Group:
        """This group without the artifacts no installed runtime can run (they go to `skipped`)."""
        for label, path in list(self.artifacts.items()):
            if why := formats.not_installed(path):
                self.skipped[label] = why
                del self.artifacts[label]
        return self


def _group(located: folders.Located) -> Group:
    """The artifacts of a run or export folder, or the shipped model's, with the model they were made from."""
    export = located.folder
    name = export.parent.name if export.name == folders.EXPORT else export.name
    source = located.manifest.source if located.manifest else {}
    macs = source.get("training", {}).get("macs")
    path = Path(source.get("path", ""))
    onnx = path if source.get("kind") == "onnx" and path.is_file() else None
    group = Group("default" if located.shipped else name, dict(located.files), located.keras, onnx, macs=macs)
    group.adapters = Adapters.from_json(source.get("adapters"))
    return group


def resolve(targets: list[Path], runs_dir: Path = Path("runs")) -> list[Group]:
    """Groups to measure: run or export folders, loose files, format names of the shipped model;
    by default the newest run's export, else the shipped model. Artifacts that no installed
    runtime can run are left in each group's `skipped`."""
    if not targets:
        return [_group(folders.locate(folders.newest_export(runs_dir))).runnable()]
    named = [str(t) for t in targets if str(t) in formats.FORMATS and not t.exists()]
    groups, loose = [], Group("files")
    if named:
        shipped = _group(folders.locate())
        missing = [n for n in named if n not in shipped.artifacts]
        if missing:
            raise FmnistError(f"the shipped model has no {missing[0]} artifact; it has {', '.join(shipped.artifacts)}")
        shipped.artifacts = {n: p for n, p in shipped.artifacts.items() if n in named}
        shipped.keras = None
        groups.append(shipped)
    for target in targets:
        if str(target) in named:
            continue
        if target.is_file() and target.suffix == ".keras":
            loose.keras = target
        elif target.is_file():
            loose.artifacts |= {path.name: path for path in folders.locate(target).files.values()}
        else:
            groups.append(_group(folders.locate(target)))
    if loose.artifacts or loose.keras:
        groups.append(loose)
    return [group.runnable() for group in groups]
