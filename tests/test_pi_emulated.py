"""The emulated Raspberry Pi check's own logic, run without emulation: the wheel tags, what pip
resolves for aarch64 (from PyPI), the probe of each process, and comparisons that fail when the
emulated results differ from the native ones."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_data, run_fmnist

from fmnist import data, machine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from pi_emulated import checks, compare, guest, pages, target, wheels  # noqa: E402

EXAMPLES = checks.EXAMPLES


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


needs_pypi = pytest.mark.skipif(not _pypi_reachable(), reason="PyPI is not reachable")


def test_tags_name_every_manylinux_up_to_the_pi_os_glibc():
    tags = wheels.platform_tags()
    assert tags == ["manylinux2014_aarch64", *(f"manylinux_2_{n}_aarch64" for n in range(17, 37))]
    assert "manylinux_2_27_aarch64" in tags  # ai-edge-litert 2.x carries only this one
    assert wheels.platform_tags((2, 28))[-1] == "manylinux_2_28_aarch64"
    options = wheels.pip_target()
    assert options.count("--platform") == len(tags) and options[options.index("--abi") + 1] == "cp311"


@needs_pypi
def test_the_runtime_resolves_for_aarch64_with_litert_2_and_without_tensorflow():
    packages = wheels.resolve(f"fmnist[{target.EXTRAS}] @ {ROOT.as_uri()}")
    assert int(packages["ai-edge-litert"].split(".")[0]) >= 2
    assert {"fmnist", "numpy", "pillow", "onnxruntime"} <= set(packages)
    assert not any(name.startswith(("tensorflow", "keras", "tf2onnx")) for name in packages)
    assert wheels.check_resolution(packages) == []


@needs_pypi
def test_a_short_tag_list_silently_gets_the_old_litert_and_is_caught():
    packages = wheels.resolve("ai-edge-litert", glibc=(2, 17))
    assert packages["ai-edge-litert"].startswith("1.")
    assert any("expected 2.0 or newer" in p for p in wheels.check_resolution(packages))


def test_check_resolution_names_each_problem():
    problems = wheels.check_resolution({"tensorflow": "2.19.0", "keras": "3.9", "onnxruntime": "1.21.0"})
    assert problems == [
        "tensorflow 2.19.0 would be installed: the runtime must run without it",
        "keras 3.9 would be installed: the runtime must run without it",
        "ai-edge-litert missing: expected 2.0 or newer",
        "onnxruntime 1.21.0: expected a release that runs on a Pi 4",
    ]


@pytest.mark.parametrize("cpu, core", [("cortex-a72", "Cortex-A72"), ("cortex-a76", "Cortex-A76")])
def test_each_cpu_gets_a_raspberry_pi_cpuinfo_beside_the_userland(tmp_path, cpu, core):
    sysroot = tmp_path / "sysroot"
    (sysroot / "usr/bin").mkdir(parents=True)
    (sysroot / "proc").mkdir()
    machines = guest.Machines(sysroot, [], tmp_path)
    root = machines.roots[cpu]
    assert (root / "usr/bin").resolve() == (sysroot / "usr/bin").resolve()
    assert machine.cpu_model(root / "proc/cpuinfo").endswith(f"emulated by qemu ({core})")
    assert (root / "proc/cpuinfo").read_text().count("processor\t:") == (os.cpu_count() or 1)


def test_the_probe_tells_a_host_process_from_an_aarch64_one(tmp_path):
    """Run natively, the probe reports this machine: exactly what the check would refuse."""
    (tmp_path / "sysroot").mkdir()
    machines = guest.Machines(tmp_path / "sysroot", [], tmp_path)
    result, probe = machines.run(None, ["predict", "--json", "--model", "onnx", EXAMPLES[0]])
    assert json.loads(result.stdout)["file"] == EXAMPLES[0]
    assert probe == {"machine": platform.machine(), "forbidden": []}
    assert guest.check_probe(probe, "predict") == [f"predict: platform.machine() is {probe['machine']!r}"]
    assert guest.check_probe({"machine": "aarch64", "forbidden": ["tensorflow"]}, "bench") == [
        "bench: imported tensorflow"
    ]
    with pytest.raises(target.CheckFailed, match="fmnist predict nowhere.png on x86 failed"):
        machines.run(None, ["predict", "nowhere.png"])


@pytest.fixture(scope="module")
def predicted() -> str:
    result = run_fmnist("predict", "--json", "--top-k", "10", "--model", "onnx", *EXAMPLES)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _changed(output: str, line: int, change) -> str:
    rows = [json.loads(text) for text in output.splitlines()]
    change(rows[line])
    return "\n".join(json.dumps(row) for row in rows)


def test_predictions_that_agree_pass(predicted):
    result = compare.compare_predictions(predicted, predicted, float_model=True)
    assert result == {"images": len(EXAMPLES), "max_probability_difference": 0.0, "problems": []}


def test_a_different_label_fails(predicted):
    def relabel(row):
        row.update(label=(row["label"] + 1) % 10, **{"class": "Bag"})

    result = compare.compare_predictions(predicted, _changed(predicted, 2, relabel), float_model=False)
    assert result["problems"] == [
        f"{EXAMPLES[2]}: {json.loads(predicted.splitlines()[2])['class']} natively, Bag emulated"
    ]


def test_float_probabilities_must_agree_to_1e5_and_int8_ones_are_reported(predicted):
    def nudge(row):
        row["top_k"][3]["probability"] += 2e-5

    emulated = _changed(predicted, 1, nudge)
    float_result = compare.compare_predictions(predicted, emulated, float_model=True)
    assert float_result["problems"] == ["float probabilities differ by 2e-05 (tolerance 1e-05)"]
    int8_result = compare.compare_predictions(predicted, emulated, float_model=False)
    assert int8_result["problems"] == [] and int8_result["max_probability_difference"] == pytest.approx(2e-5)


def test_a_missing_image_fails(predicted):
    shorter = "\n".join(predicted.splitlines()[:-1])
    assert compare.compare_predictions(predicted, shorter, float_model=True)["problems"][0] == (
        f"different images: {len(EXAMPLES)} natively, {len(EXAMPLES) - 1} emulated"
    )
    assert compare.compare_predictions("", "", float_model=True)["problems"] == ["no predictions to compare"]


@needs_data
def test_evaluations_within_005_points_pass_with_the_differing_images_listed(tmp_path):
    path = tmp_path / "evaluate.json"
    assert run_fmnist("evaluate", "onnx", "--json", str(path)).returncode == 0
    native = json.loads(path.read_text())
    _, labels = data.load_test()
    assert compare.compare_evaluations(native, native)["problems"] == []
    assert native["accuracy"] == native["manifest_accuracy"]

    def flipped(count: int) -> dict:
        right = np.flatnonzero(np.array(native["predicted"]) == labels)[:count]
        predicted = list(native["predicted"])
        for i in right:
            predicted[i] = (predicted[i] + 1) % 10
        return {**native, "predicted": predicted, "accuracy": float(np.mean(np.array(predicted) == labels))}

    close = compare.compare_evaluations(native, flipped(5))  # 0.05 points
    assert close["problems"] == [] and len(close["differing_images"]) == 5
    assert close["differing_images"][0]["native"] != close["differing_images"][0]["emulated"]
    partial = {**native, "predicted": native["predicted"][:9000], "images": 9000}
    assert compare.compare_evaluations(native, partial)["problems"][0] == (
        f"{native['model']}: 9000 images emulated, 10000 natively, expected 10000"
    )
    far = compare.compare_evaluations(native, flipped(6))
    assert far["problems"] == [
        f"{native['model']}: {native['accuracy'] - 0.0006:.2%} emulated, "
        f"{native['manifest_accuracy']:.2%} in the manifest (6 images predicted differently)"
    ]


def _elf(path: Path, segments: list[tuple[int, int]]) -> Path:
    """A 64-bit little-endian ELF header and program headers: (p_type, p_align) each."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)
    struct.pack_into("<HH", header, 0x36, 56, len(segments))
    table = b"".join(struct.pack("<II5QQ", kind, 5, 0, 0, 0, 0, 0, align) for kind, align in segments)
    path.write_bytes(bytes(header) + table)
    return path


def test_pi5_page_size_check_reads_the_load_alignment(tmp_path):
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    assert pages.check_page_size([aligned])["problems"] == ["no shared libraries found to check"]
    _elf(aligned / "libgood.so", [(1, 0x10000), (2, 8), (1, 0x10000)])  # PT_DYNAMIC's 8 does not count
    (aligned / "notes.so.txt").write_text("not an ELF file")
    assert pages.check_page_size([aligned]) == {
        "check": "16 KiB pages (Pi 5)",
        "cpu": "–",
        "libraries": 1,
        "min_alignment": 0x10000,
        "problems": [],
    }
    _elf(aligned / "libsmall.so.1", [(1, 0x1000)])
    assert pages.check_page_size([aligned])["problems"] == [
        "libsmall.so.1: LOAD segments aligned to 0x1000, below 16 KiB pages"
    ]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils' readelf is not installed")
def test_load_alignments_of_real_libraries_match_readelf():
    libraries = sorted(Path(np.__file__).parent.rglob("*.so"))[:5]
    assert libraries
    for library in libraries:
        listing = subprocess.run(["readelf", "-lW", library], capture_output=True, text=True, check=True).stdout
        expected = [int(line.split()[-1], 16) for line in listing.splitlines() if line.strip().startswith("LOAD")]
        assert pages.load_alignments(library) == expected and expected, library
