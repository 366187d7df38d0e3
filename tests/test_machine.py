"""What a benchmark records about the machine: the CPU named from /proc/cpuinfo on x86 and Arm."""

from __future__ import annotations

import platform

import pytest

from fmnist import machine

PI4_64BIT = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd08

processor\t: 1
CPU part\t: 0xd08

Revision\t: c03114
Serial\t\t: 10000000abcdef01
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""
PI3_32BIT = """processor\t: 0
model name\t: ARMv7 Processor rev 4 (v7l)
CPU implementer\t: 0x41
CPU part\t: 0xd03

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 3 Model B Plus Rev 1.3
"""
X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse avx2\n"
ARM_SERVER = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        (PI4_64BIT, "Raspberry Pi 4 Model B Rev 1.4 (Cortex-A72)"),
        (PI3_32BIT, "Raspberry Pi 3 Model B Plus Rev 1.3 (Cortex-A53)"),
        (X86, "AMD EPYC 7B13"),
        (ARM_SERVER, "Neoverse-N1"),
    ],
)
def test_cpu_model_names_the_board_and_core(tmp_path, text, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert machine.cpu_model(cpuinfo) == expected


def test_cpu_model_without_cpuinfo_falls_back_to_the_platform(tmp_path):
    assert machine.cpu_model(tmp_path / "missing") == (platform.processor() or platform.machine())
