"""fmnist's runtime as a Raspberry Pi runs it, checked from an x86 machine.

Debian bookworm arm64 (what 64-bit Raspberry Pi OS is built on: Python 3.11, glibc 2.36) is
unpacked with mmdebstrap; the runtime-only install (the fmnist wheel, numpy, Pillow, typer,
rich, onnxruntime, ai-edge-litert; never TensorFlow) is resolved for cp311 aarch64 and unpacked
beside it; qemu user-mode emulation runs that Python as a Cortex-A72 (Pi 4) and a Cortex-A76
(Pi 5). Every command also runs natively, and the two must agree:

- `fmnist predict` on the example photos and an IDX file, in each shipped format: the same
  labels; float probabilities within 1e-5; the largest int8 difference is reported;
- `fmnist evaluate` of the shipped int8 TFLite and float ONNX models on the 10,000 test images:
  the manifest's accuracy, or within 0.05 points with the images that differ listed;
- `fmnist bench --quick` (no cold start: a child of the emulator would run the host's binary),
  its timings marked as emulated; it measures the ONNX and LiteRT formats (TFLite Micro has no
  aarch64 wheel, and the userland has no C compiler, so the microcontroller formats are skipped);
- every emulated process reports platform.machine() == "aarch64" and no TensorFlow module;
- every shared library of the install loads on the Pi 5's 16 KiB pages (qemu cannot emulate
  those): its LOAD segments are aligned to 16 KiB or more.

Emulation proves the wheels load and compute the same answers; it says nothing about speed.
Run it with `bash scripts/pi-emulated.sh [--out DIR] [--cache DIR]`. Modules, in the order a run
takes them: `target` (what is emulated), `wheels`, `userland`, `guest` (running fmnist on either
side), `compare`, `pages`, `checks` (the whole run) and `report`.

"""
