"""fmnist's generated C engine on an emulated Cortex-M4F, checked against the same C on the host.

The int8 TFLite model that ships with fmnist is turned into `fmnist_model.c` (fmnist.export's
C engine), compiled with arm-none-eabi-gcc for a Cortex-M4F (`-mcpu=cortex-m4 -mthumb
-mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2`) into a bare-metal firmware for qemu's `mps2-an386` board
(`startup.c`, `mps2_an386.ld`, newlib with semihosting), and with the host's cc. One `main.c`
classifies Fashion-MNIST test images on both, and the check fails unless:

- the engine alone compiles without a warning under `-std=c99 -Wall -Wextra -pedantic` (both compilers);
- every logit byte of every image is the same on the Cortex-M4 as on the host.

It measures the engine's flash (.text and .rodata) and RAM (.data, .bss and the stack it reached,
found by painting the stack), the whole firmware's, and the instructions per inference: qemu runs
with `-icount shift=0`, one instruction per virtual nanosecond, read from the board's 25 MHz timer
(so emulated instructions, not cycles). Run it with `bash scripts/mcu-emulated.sh [--images N]`;
it writes `report.json` and `report.md` to benchmarks/results/mcu/. Modules, in the order a run
takes them: `target` (the board, the flags, helpers), `build`, `emulate`, `report`.
"""
