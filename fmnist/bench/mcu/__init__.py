"""`fmnist bench mcu`: the microcontroller formats of an export, what they take on a board.

For each of tflm and c: flash, RAM, instructions per inference and accuracy. The C engine is
measured on an emulated Cortex-M4F: compiled with arm-none-eabi-gcc (`-mcpu=cortex-m4 -mthumb
-mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2`) into a bare-metal firmware for qemu's `mps2-an386`
board (`startup.c`, `mps2_an386.ld`, newlib with semihosting) and with the host's cc; one
`main.c` classifies the same test images on both. It is a problem unless the engine compiles
without a warning under `-std=c99 -Wall -Wextra -pedantic` and every logit byte of every image is
the host's. Flash is .text and .rodata, RAM .data, .bss and the stack it reached (found by
painting the stack); instructions come from `-icount shift=0`, one instruction per virtual
nanosecond, read from the board's 25 MHz timer (so emulated instructions, not cycles). TFLite
Micro is not built here (its sources are on no package registry): its row gives the model's
bytes and the arena measured at export. Modules, in the order a run takes them: `measure` (the
table), `target` (the board, the flags, helpers), `build`, `emulate`, `board`, `report`.
"""
