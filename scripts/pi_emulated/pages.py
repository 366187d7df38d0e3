"""The Raspberry Pi 5's 16 KiB pages, which qemu-user cannot emulate: read from the ELF headers."""

from __future__ import annotations

import struct
from pathlib import Path


def load_alignments(path: Path) -> list[int]:
    """p_align of every PT_LOAD segment of a 64-bit little-endian ELF file ([] for other files)."""
    with path.open("rb") as file:
        header = file.read(64)
        if len(header) < 64 or header[:6] != b"\x7fELF\x02\x01":
            return []
        (offset,), (size, count) = struct.unpack_from("<Q", header, 0x20), struct.unpack_from("<HH", header, 0x36)
        file.seek(offset)
        table = file.read(size * count)
    entries = [table[i * size : (i + 1) * size] for i in range(count)]
    return [struct.unpack_from("<Q", entry, 0x30)[0] for entry in entries if struct.unpack_from("<I", entry)[0] == 1]


def check_page_size(site: list[Path], page: int = 16384) -> dict:
    """Raspberry Pi 5 kernels use 16 KiB pages, which qemu-user cannot emulate: a shared library
    loads there only if every LOAD segment is aligned to at least that."""
    libraries = {path: load_alignments(path) for folder in site for path in folder.rglob("*.so*") if path.is_file()}
    libraries = {path: aligns for path, aligns in libraries.items() if aligns}
    problems = [
        f"{path.name}: LOAD segments aligned to {min(aligns):#x}, below {page // 1024} KiB pages"
        for path, aligns in libraries.items()
        if min(aligns) < page
    ]
    if not libraries:
        problems.append("no shared libraries found to check")
    return {
        "check": "16 KiB pages (Pi 5)",
        "cpu": "–",
        "libraries": len(libraries),
        "min_alignment": min((min(a) for a in libraries.values()), default=None),
        "problems": problems,
    }
