"""Photo-like files made from Fashion-MNIST test images: large, dark garment on a light
background, in every mode and format `fmnist predict` must read."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

KINDS = [
    "rgb.jpg",
    "rgba-transparent.png",
    "gray-on-black.png",
    "gray16.png",
    "palette.gif",
    "animated.gif",
    "cmyk.jpg",
    "rgb.webp",
    "rgb.bmp",
    "la.png",
    "exif-rotated.jpg",
    "rgb.tiff",
]


def _catalogue(pixels: np.ndarray, offset: tuple[int, int]) -> Image.Image:
    """The garment 10× larger, dark on an off-white 400×340 canvas, a little off centre."""
    garment = Image.fromarray(255 - pixels).resize((280, 280), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (400, 340), 245)
    canvas.paste(garment, offset, Image.fromarray(pixels).resize((280, 280)).point(lambda v: 255 if v else 0))
    return canvas


def write_photo(pixels: np.ndarray, kind: str, folder: Path, stem: str, seed: int = 0) -> Path:
    """Save one 28×28 Fashion-MNIST image as a photo of the given kind; return its path."""
    rng = np.random.default_rng(seed)
    gray = _catalogue(pixels, (int(rng.integers(0, 120)), int(rng.integers(0, 60))))
    rgb = Image.merge("RGB", [gray, gray.point(lambda v: v * 0.95), gray.point(lambda v: v * 0.85 + 30)])
    path = folder / f"{stem}-{kind}"
    if kind in ("rgb.jpg", "rgb.webp", "rgb.bmp", "rgb.tiff"):
        rgb.save(path)
    elif kind == "rgba-transparent.png":  # garment opaque, background fully transparent
        big = Image.fromarray(pixels).resize((280, 280), Image.Resampling.BICUBIC)
        rgba = Image.new("RGBA", big.size, (0, 0, 0, 0))
        opaque = big.point(lambda v: 255 if v else 0)  # a cut-out: the garment opaque, the rest clear
        rgba.paste(Image.merge("RGB", [Image.fromarray(255 - np.asarray(big))] * 3).convert("RGBA"), mask=opaque)
        rgba.save(path)
    elif kind == "gray-on-black.png":  # already Fashion-MNIST's convention: no inversion
        Image.fromarray(pixels).resize((250, 250), Image.Resampling.BICUBIC).save(path)
    elif kind == "gray16.png":
        Image.fromarray(np.asarray(gray, np.uint16) * 257).save(path)
    elif kind == "palette.gif":
        rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    elif kind == "animated.gif":  # only the first frame counts
        noise = Image.fromarray(rng.integers(0, 255, (340, 400), dtype=np.uint8)).convert("P")
        rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(path, save_all=True, append_images=[noise], duration=100)
    elif kind == "cmyk.jpg":
        rgb.convert("CMYK").save(path)
    elif kind == "la.png":
        Image.merge("LA", [gray, Image.new("L", gray.size, 255)]).save(path)
    elif kind == "exif-rotated.jpg":  # stored turned left; the EXIF tag says turn it back
        exif = Image.Exif()
        exif[0x0112] = 6
        rgb.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    else:
        raise ValueError(kind)
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def decompression_bomb(path: Path) -> Path:
    """A 200-byte PNG claiming 30,000 × 30,000 pixels."""
    return png_claiming(path, 30_000, 30_000)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny grayscale PNG whose header claims `width` × `height` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + _chunk(b"IEND", b"")
    )
    return path


def jpeg_claiming(path: Path, width: int, height: int) -> Path:
    """A small real JPEG whose header claims `width` × `height` pixels (a JPEG bomb)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    path.write_bytes(bytes(data))
    return path
