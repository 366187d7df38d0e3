"""What `fmnist bench` measures: the artifacts of export folders, run folders or loose files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fmnist import formats
from fmnist.errors import FmnistError
from fmnist.runtime.classifier import DEFAULT_MODEL_DIR


@dataclass
class Group:
    """The artifacts of one model (an export folder, or loose files) and its Keras source."""

    name: str
    artifacts: dict[str, Path] = field(default_factory=dict)  # row label -> file
    keras: Path | None = None
    macs: int | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # row label -> why it is not measured here

    def runnable(self) -> Group:
        """This group without the artifacts no installed runtime can run (they go to `skipped`)."""
        for label, path in list(self.artifacts.items()):
            if why := formats.not_installed(path):
                self.skipped[label] = why
                del self.artifacts[label]
        return self


def _from_folder(folder: Path) -> Group:
    export = folder / "export" if (folder / "export" / "manifest.json").is_file() else folder
    manifest_path = export / "manifest.json"
    if not manifest_path.is_file():
        raise FmnistError(f"{folder}: no manifest.json here or in {folder / 'export'}; run `fmnist export` first")
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["artifacts"]
    except (ValueError, KeyError) as exc:
        raise FmnistError(f"{manifest_path}: not an fmnist manifest ({exc})") from None
    artifacts = {
        fmt.name: export / fmt.file
        for fmt in formats.FORMATS.values()
        if fmt.name in entries and (export / fmt.file).is_file()
    }
    source = Path(manifest.get("source", {}).get("path", ""))
    keras = next((p for p in (export.parent / "model.keras", source) if p.suffix == ".keras" and p.is_file()), None)
    if export.resolve() == DEFAULT_MODEL_DIR.resolve():
        name = "default"
    else:
        name = export.parent.name if export.name == "export" else export.name
    return Group(name, artifacts, keras, manifest.get("source", {}).get("training", {}).get("macs"))


def resolve(targets: list[Path], runs_dir: Path = Path("runs")) -> list[Group]:
    """Groups to measure: run or export folders, loose files, format names of the shipped model;
    by default the newest run's export, else the shipped model. Artifacts that no installed
    runtime can run are left in each group's `skipped`."""
    if not targets:
        exports = sorted(runs_dir.glob("*/export/manifest.json"), key=lambda p: p.stat().st_mtime)
        return [_from_folder(exports[-1].parent if exports else DEFAULT_MODEL_DIR).runnable()]
    named = [str(t) for t in targets if str(t) in formats.FORMATS and not t.exists()]
    groups, loose = [], Group("files")
    if named:
        shipped = _from_folder(DEFAULT_MODEL_DIR)
        missing = [n for n in named if n not in shipped.artifacts]
        if missing:
            raise FmnistError(f"the shipped model has no {missing[0]} artifact; it has {', '.join(shipped.artifacts)}")
        shipped.artifacts = {n: p for n, p in shipped.artifacts.items() if n in named}
        shipped.keras = None
        groups.append(shipped)
    for target in targets:
        if str(target) in named:
            continue
        if target.is_dir():
            groups.append(_from_folder(target))
        elif not target.is_file():
            raise FmnistError(f"{target}: no such file or folder")
        elif target.suffix == ".keras":
            loose.keras = target
        else:
            formats.family_of(target)  # refuses a file no runtime reads
            loose.artifacts[target.name] = target
    if loose.artifacts or loose.keras:
        groups.append(loose)
    return [group.runnable() for group in groups]
