"""Turn the files a user has into model pixels: uint8 [N, 28, 28, 1], garment bright on black.

Photos (any format and mode Pillow reads) go through the steps Fashion-MNIST's own images
went through: grayscale, trim the background, fit the longest side into 28 px keeping the
aspect ratio, centre on a 28×28 canvas, and invert a light background. IDX files and
`.npy` arrays of 28×28 uint8 images are read as they are. Every bad file raises an
`InputError` naming it, so a caller can report it and go on with the others.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from fmnist.contract import SIDE
from fmnist.errors import FmnistError, InputError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
TRIM_THRESHOLD = 0.05 * 255  # a pixel this far from the background colour belongs to the garment
WORKING_SIZE = 160  # photos are decoded (JPEG: at a reduced scale) and shrunk to at most this first
UNSUPPORTED = "unsupported type"  # why a folder walk passes a file over


def is_array_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".npy") or "-ubyte" in name or name.endswith((".idx", ".idx.gz"))


@dataclass
class Found:
    """What `walk` found: the files to read, and the files and folders it passed over."""

    files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)


def _walk_folder(folder: Path, found: Found) -> list[Path]:
    """Images, .npy and IDX files under `folder`, following links to folders once each."""
    files, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        here = os.stat(root)
        if (here.st_dev, here.st_ino) in seen:  # a link back to a folder already walked
            dirs[:] = []
            found.skipped.append((Path(root), "link back to a folder already walked"))
            continue
        seen.add((here.st_dev, here.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # hidden folders and files stay unseen
        for name in sorted(n for n in names if not n.startswith(".")):
            path = Path(root) / name
            if path.suffix.lower() in IMAGE_SUFFIXES or is_array_file(path):
                files.append(path)  # a broken link too: read() reports it
            else:
                found.skipped.append((path, UNSUPPORTED))
    return sorted(files)


def walk(paths: Iterable[str | Path]) -> Found:
    """Files to read: named files as given (whatever their type), folders walked for images,
    .npy and IDX files; what a folder holds besides is listed as skipped."""
    found = Found([])
    for path in map(Path, paths):
        found.files += (
            (_walk_folder(path, found) or [path]) if path.is_dir() else [path]
        )  # an empty folder: read() says so
    return found


def read(path: str | Path) -> np.ndarray:
    """uint8 [N, 28, 28, 1] pixels from an image, IDX or .npy file."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: a folder with no images, .npy or IDX files in it")
    if not path.exists():
        what = "a broken symbolic link" if path.is_symlink() else "no such file"
        raise InputError(f"{path}: {what}")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    pixels = _read_array(path) if is_array_file(path) else load_image(path)[None]
    return pixels[..., None] if pixels.ndim == 3 else pixels


def _read_array(path: Path) -> np.ndarray:
    from fmnist import data

    if path.name.lower().endswith(".npy"):
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputError(f"{path}: not a .npy file (no NumPy header)")
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            reason = "it holds Python objects, which are never unpickled" if "pickle" in str(exc) else exc
            raise InputError(f"{path}: cannot load the array: {reason}") from None
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: truncated or corrupt .npy file ({exc})") from None
    else:
        try:
            array = data.read_idx(path, "images")
        except FmnistError as exc:
            raise InputError(str(exc)) from None
    if (
        not isinstance(array, np.ndarray)
        or array.dtype != np.uint8
        or array.ndim not in (3, 4)
        or array.shape[1:3] != (SIDE, SIDE)
        or (array.ndim == 4 and array.shape[3] != 1)
    ):
        raise InputError(
            f"{path}: holds {getattr(array, 'dtype', type(array).__name__)} {list(np.shape(array))}; "
            "expected uint8 [N, 28, 28] or [N, 28, 28, 1]"
        )
    return array


def max_pixels() -> int:
    """The most pixels one image may decode to: $FMNIST_MAX_PIXELS, else Pillow's own limit (none
    when Pillow's is switched off: 2**62)."""
    from PIL import Image

    given = os.environ.get("FMNIST_MAX_PIXELS", "")
    return int(given) if given.isdigit() else int(Image.MAX_IMAGE_PIXELS or 0) or 1 << 62


def _open(file: BinaryIO) -> Image.Image:
    """A lazily decoded image. A JPEG opens without Pillow's size check, which counts the full
    resolution: it decodes at 1/2 to 1/8 scale (`draft`), and `decode` checks that size."""
    from PIL import Image, JpegImagePlugin

    jpeg = file.read(3) == b"\xff\xd8\xff"
    file.seek(0)
    return JpegImagePlugin.JpegImageFile(file) if jpeg else Image.open(file)


def _drafted(file: BinaryIO) -> Image.Image:
    """`_open`, a JPEG set to decode at a reduced scale (its size is then the size it decodes to)."""
    image = _open(file)
    if image.format == "JPEG":
        image.draft("L", (WORKING_SIZE, WORKING_SIZE))
    return image


def decoded_pixels(data: bytes) -> int | None:
    """How many pixels `data` decodes to (a JPEG at its reduced scale), from its header alone; None
    when its header cannot be read (`decode` says why)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _drafted(io.BytesIO(data)) as image:
                return image.size[0] * image.size[1]
    except Exception:  # noqa: BLE001 -- whatever the header holds, `decode` reports it
        return None


def load_image(path: str | Path) -> np.ndarray:
    """uint8 [28, 28] pixels from a photo or drawing, in Fashion-MNIST's convention.

    A photo larger than `max_pixels` once decoded, or one Pillow refuses as a decompression
    bomb, raises `InputError`; a JPEG counts at the reduced scale it is decoded at."""
    with open(path, "rb") as file:
        return decode(file, str(path))


def decode(file: BinaryIO, name: str) -> np.ndarray:
    """`load_image` for an open binary file (an upload, say); errors name it `name`."""
    from PIL import Image

    limit = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is checked below
            with _drafted(file) as image:
                width, height = image.size
                if width * height > limit:
                    raise InputError(
                        f"{name}: {width}×{height} pixels to decode, more than the {limit:,} allowed "
                        "(a possible decompression bomb; set FMNIST_MAX_PIXELS to allow more)"
                    )
                image.load()
                pixels = to_pixels(image)
    except Image.DecompressionBombError:
        raise InputError(
            f"{name}: image is too large (over {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels): refused as a possible "
            "decompression bomb"
        ) from None
    except InputError:
        raise
    except Image.UnidentifiedImageError:
        raise InputError(f"{name}: not an image Pillow can read") from None
    except Exception as exc:  # noqa: BLE001 -- a corrupt file makes decoders raise many kinds
        raise InputError(f"{name}: cannot decode the image ({str(exc) or type(exc).__name__})") from None
    if not pixels.any():
        raise InputError(f"{name}: no garment found: the image is blank once its background is removed")
    return pixels


def to_pixels(image: Image.Image) -> np.ndarray:
    """A Pillow image as uint8 [28, 28], garment bright on a black background; all zeros when
    nothing stands out from the background."""
    gray = _grayscale(image)
    border = np.sort(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]]))
    background = float(np.mean(border[[(len(border) - 1) // 2, len(border) // 2]]))  # np.median, without numpy.ma
    if background > 127:  # dark garment on a light background: negate, as Fashion-MNIST did
        gray, background = 255 - gray, 255 - background
    gray = np.clip((gray - background) * (255 / max(255 - background, 1.0)), 0, 255)
    rows, cols = np.flatnonzero(gray.max(1) > TRIM_THRESHOLD), np.flatnonzero(gray.max(0) > TRIM_THRESHOLD)
    if not rows.size:  # nothing stands out from the background
        return np.zeros((SIDE, SIDE), np.uint8)
    return _fit(gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def _grayscale(image: Image.Image) -> np.ndarray:
    """float32 luminance 0..255 of a Pillow image of any mode; transparency becomes white."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        values = np.asarray(image, dtype=np.float32)
        top = 1.0 if image.mode == "F" and values.max() <= 1 else 255.0 if values.max() <= 255 else 65535.0
        image = Image.fromarray(values * np.float32(255 / top))
    elif image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L")
    else:
        image = image.convert("RGB").convert("L") if image.mode != "L" else image
    image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32)


def _fit(gray: np.ndarray) -> np.ndarray:
    """Resize so the longest side is 28 px, keep the aspect ratio, centre on black."""
    from PIL import Image

    height, width = gray.shape
    scale = SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.LANCZOS))
    canvas = np.zeros((SIDE, SIDE), np.float32)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = small
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
