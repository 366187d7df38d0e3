"""Find, download, verify and parse Fashion-MNIST, and draw stratified samples (numpy only).

Search order: an explicit folder (``--data-dir``), the ``FMNIST_DATA`` environment
variable, the user cache, then the Debian package ``dataset-fashion-mnist``. An explicit
folder must hold the data; the others are searched in turn. Checksums are SHA-256 of the
*decompressed* IDX bytes, so recompressed copies (Debian's) verify as well as upstream's.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fmnist.contract import NUM_CLASSES, SIDE
from fmnist.errors import DataError
from fmnist.files import atomic_path

if TYPE_CHECKING:
    from rich.progress import Progress

MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "get it with `apt-get install dataset-fashion-mnist` or `fmnist data download`"

IMAGE_MAGIC = 0x0803  # unsigned byte, 3 dimensions
LABEL_MAGIC = 0x0801  # unsigned byte, 1 dimension


@dataclass(frozen=True)
class Part:
    """One of the four official IDX files."""

    stem: str
    sha256: str  # of the decompressed bytes


PARTS = {
    "train_images": Part(
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    "train_labels": Part(
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    "test_images": Part(
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    "test_labels": Part(
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """The verified Fashion-MNIST arrays and the folder they came from."""

    x_train: np.ndarray  # uint8 [60000, 28, 28]
    y_train: np.ndarray  # uint8 [60000]
    x_test: np.ndarray  # uint8 [10000, 28, 28]
    y_test: np.ndarray  # uint8 [10000]
    source: Path


def cache_dir() -> Path:
    """The per-user cache folder where `fmnist data download` puts the files."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist"


def _part_path(folder: Path, part: Part) -> Path | None:
    for name in (part.stem + ".gz", part.stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _missing(folder: Path) -> list[str]:
    return [p.stem for p in PARTS.values() if _part_path(folder, p) is None]


def find(data_dir: str | Path | None = None) -> Path:
    """Return the first folder that holds all four files, or raise `DataError`."""
    explicit = data_dir if data_dir is not None else os.environ.get("FMNIST_DATA")
    if explicit:
        folder = Path(explicit).expanduser()
        fill = f"run `fmnist data download --data-dir {folder}` or copy the four IDX files there"
        if not folder.is_dir():
            raise DataError(f"data folder {folder} does not exist; {fill}")
        missing = _missing(folder)
        if missing:
            raise DataError(f"{folder} lacks {', '.join(missing)}; {fill}")
        return folder
    searched = [cache_dir(), DEBIAN_DIR]
    for folder in searched:
        if folder.is_dir() and not _missing(folder):
            return folder
    raise DataError(f"Fashion-MNIST not found (looked in {', '.join(map(str, searched))}); {INSTALL_HINT}")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None


def parse_idx(data: bytes, name: str, kind: str) -> np.ndarray:
    """Parse IDX bytes holding uint8 images [N,28,28] (kind 'images') or labels [N]."""
    magic, ndim = (IMAGE_MAGIC, 3) if kind == "images" else (LABEL_MAGIC, 1)
    header = 4 + 4 * ndim
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    other = {IMAGE_MAGIC: "images", LABEL_MAGIC: "labels"}.get(found or 0, kind)
    if other != kind:
        raise DataError(f"{name}: this IDX file holds {other}, not {kind}")
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header ({len(data)} bytes)")
    if found != magic:
        raise DataError(f"{name}: bad IDX magic 0x{found:08x}, expected 0x{magic:08x} (uint8 {kind})")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if kind == "images" and dims[1:] != (SIDE, SIDE):
        raise DataError(f"{name}: images are {dims[1]}x{dims[2]}, expected {SIDE}x{SIDE}")
    expected = int(np.prod(dims))
    body = len(data) - header
    if body != expected:
        what = "truncated" if body < expected else "has trailing bytes"
        raise DataError(f"{name}: {what}: {body} data bytes for dims {dims}, expected {expected}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    if kind == "labels" and array.size and array.max() >= NUM_CLASSES:
        raise DataError(f"{name}: label {int(array.max())} outside 0..{NUM_CLASSES - 1}")
    return array


def read_idx(path: str | Path, kind: str) -> np.ndarray:
    """Read a gzipped or raw IDX file of images or labels."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), kind)


def load_pair(images: str | Path, labels: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check they belong together."""
    x, y = read_idx(images, "images"), read_idx(labels, "labels")
    _check_pair(x, y, images, labels)
    return x, y


def _check_pair(x: np.ndarray, y: np.ndarray, images: str | Path, labels: str | Path) -> None:
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")


def verify_part(path: Path, part: Part, data: bytes | None = None) -> bytes:
    """Check a file's decompressed bytes against the published SHA-256; return them."""
    data = _read_bytes(path) if data is None else data
    digest = hashlib.sha256(data).hexdigest()
    if digest != part.sha256:
        raise DataError(
            f"{path}: checksum mismatch (sha256 {digest[:12]}…, expected {part.sha256[:12]}…); "
            f"delete it and {INSTALL_HINT}"
        )
    return data


def _load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    arrays, paths = {}, {}
    for kind in ("images", "labels"):
        part = PARTS[f"{split}_{kind}"]
        path = _part_path(folder, part)
        if path is None:  # removed since `find` saw it
            raise DataError(f"{folder}: {part.stem} is missing; {INSTALL_HINT}")
        paths[kind] = path
        data = _read_bytes(path)
        arrays[kind] = parse_idx(data, str(path), kind)  # structure errors first
        verify_part(path, part, data)
    _check_pair(arrays["images"], arrays["labels"], paths["images"], paths["labels"])
    return arrays["images"], arrays["labels"]


def load(data_dir: str | Path | None = None) -> Dataset:
    """Find, verify and parse the four files."""
    folder = find(data_dir)
    (x_train, y_train), (x_test, y_test) = (_load_split(folder, split) for split in ("train", "test"))
    return Dataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, source=folder)


def load_test(data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Only the verified 10,000 test images and labels: all that evaluation needs."""
    return _load_split(find(data_dir), "test")


def download(dest: str | Path | None = None, mirror: str | None = None, progress: Progress | None = None) -> Path:
    """Download missing or corrupt files into `dest` (default: the cache), atomically.

    `mirror` defaults to ``FMNIST_MIRROR`` or the official one. `progress` is a
    `rich.progress.Progress` to report to, or None for silence.
    """
    dest = Path(dest).expanduser() if dest else cache_dir()
    mirror = mirror or os.environ.get("FMNIST_MIRROR") or MIRROR
    if not mirror.startswith(("http://", "https://", "file://")):
        raise DataError(f"mirror {mirror!r} is not a URL; give one like {MIRROR}")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {dest} ({exc.strerror or exc})") from None
    for part in PARTS.values():
        existing = _part_path(dest, part)
        if existing is not None:
            try:
                verify_part(existing, part)
                continue
            except DataError:
                pass  # replaced below
        _download_part(mirror.rstrip("/") + "/" + part.stem + ".gz", dest, part, progress)
    return dest


def _download_part(url: str, dest: Path, part: Part, progress: Progress | None) -> None:
    target = dest / (part.stem + ".gz")
    with atomic_path(target) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, tmp.open("wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                task = progress.add_task(part.stem, total=total) if progress else None
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    if progress and task is not None:
                        progress.advance(task, len(chunk))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                reason = f"HTTP {exc.code} {exc.reason}"
            else:
                reason = str(getattr(exc, "reason", None) or exc)
            raise DataError(
                f"cannot download {url}: {reason}; check the network, or install the "
                "Debian package dataset-fashion-mnist"
            ) from None
        try:
            verify_part(tmp, part)
        except DataError:
            raise DataError(
                f"{url}: downloaded file does not match the published checksum; try again, "
                "or install the Debian package dataset-fashion-mnist"
            ) from None
    (dest / part.stem).unlink(missing_ok=True)  # a stale uncompressed copy


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with `fraction` (at least one) of every class held out, by `seed`."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        held.append(members[: max(1, round(len(members) * fraction))])
    held_out = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(y)), held_out)
    return keep, held_out


def stratified_subset(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of `size` samples spread evenly over the classes, chosen by `seed`."""
    if size >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    counts = np.full(len(classes), size // len(classes))
    counts[: size % len(classes)] += 1
    picks = [rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, counts, strict=True)]
    return np.sort(np.concatenate(picks))
