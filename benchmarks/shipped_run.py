"""Print the run folder the shipped model was exported from, as its manifest names it."""

import json
from pathlib import Path

manifest = Path(__file__).resolve().parents[1] / "fmnist" / "runtime" / "default_model" / "manifest.json"
print(Path(json.loads(manifest.read_text())["source"]["path"]).parent)
