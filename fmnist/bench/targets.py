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
    """Groups to measure: run or export folders, loose files; by default the newest run's
    export, else the shipped model."""
    if not targets:
        exports = sorted(runs_dir.glob("*/export/manifest.json"), key=lambda p: p.stat().st_mtime)
        return [_from_folder(exports[-1].parent if exports else DEFAULT_MODEL_DIR)]
    groups, loose = [], Group("files")
    for target in targets:
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
    return groups
