/* Classify the 784-byte images of a file with the generated engine and write 10 logit bytes per image.
 * The same source runs on the host (argv: images, logits) and, built with -DFIRMWARE, on an emulated
 * Cortex-M4 (mps2-an386), where files go through semihosting and the fixed names below are used.
 * Both print one line of key=value figures; the firmware's come from the CMSDK timer (25 MHz), which
 * under qemu -icount shift=0 ticks once per 40 instructions, and from a painted stack. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmnist_model.h"

#ifdef FIRMWARE
#define TIMER_CTRL (*(volatile uint32_t *)0x40000000u) /* CMSDK APB timer 0 */
#define TIMER_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER_RELOAD (*(volatile uint32_t *)0x40000008u)
#define PAINT 0xA5A5A5A5u
#define CALIBRATION 1000000u /* loops of two instructions */

extern uint32_t __stack_limit[], __stack_top[];

static uint32_t ticks(void) { return ~TIMER_VALUE; } /* counts down from 0xFFFFFFFF: elapsed ticks, mod 2^32 */

static uint32_t *stack_pointer(void) {
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

static uint32_t *lowest_used(void) { /* the deepest word the stack has reached since it was painted */
    uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == PAINT) ++p;
    return p;
}

static uint32_t calibrate(void) { /* timer ticks for 2 * CALIBRATION instructions */
    uint32_t n = CALIBRATION, start = ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
    return ticks() - start;
}
#else
#include <time.h>
#endif

static int fail(const char *what, const char *path) {
    fprintf(stderr, "%s %s\n", what, path);
    return 1;
}

int main(int argc, char **argv) {
    const char *in_path = argc > 2 ? argv[1] : "images.bin", *out_path = argc > 2 ? argv[2] : "logits.bin";
    FILE *in = fopen(in_path, "rb");
    if (!in) return fail("cannot open", in_path);
    size_t count = 0, capacity = 0;
    uint8_t *images = NULL;
    for (;;) { /* every image, in memory, so that only the engine runs while it is measured */
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            uint8_t *grown = realloc(images, capacity * FMNIST_PIXELS);
            if (!grown) return fail("out of memory for", in_path);
            images = grown;
        }
        size_t got = fread(images + count * FMNIST_PIXELS, 1, FMNIST_PIXELS, in);
        if (got == 0) break;
        if (got != FMNIST_PIXELS) return fail("a partial image at the end of", in_path);
        ++count;
    }
    fclose(in);
    int8_t *logits = malloc(count * FMNIST_CLASSES + 1);
    if (!logits) return fail("out of memory for", out_path);

#ifdef FIRMWARE
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 1;
    uint32_t calibration = calibrate();
    uint32_t *before = lowest_used(); /* the startup painted the whole stack */
    uint32_t *sp = stack_pointer();
    for (volatile uint32_t *p = __stack_limit; p < sp; ++p) *p = PAINT; /* again below main's frame; no call */
    uint64_t total = 0;
    uint32_t fastest = UINT32_MAX, slowest = 0;
    for (size_t i = 0; i < count; ++i) {
        uint32_t start = ticks();
        fmnist_predict(images + i * FMNIST_PIXELS, logits + i * FMNIST_CLASSES);
        uint32_t spent = ticks() - start;
        total += spent;
        if (spent < fastest) fastest = spent;
        if (spent > slowest) slowest = spent;
    }
    uint32_t *engine_low = lowest_used();
#else
    clock_t start = clock();
    for (size_t i = 0; i < count; ++i) fmnist_predict(images + i * FMNIST_PIXELS, logits + i * FMNIST_CLASSES);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
#endif

    FILE *out = fopen(out_path, "wb");
    if (!out) return fail("cannot create", out_path);
    if (fwrite(logits, 1, count * FMNIST_CLASSES, out) != count * FMNIST_CLASSES || fclose(out) != 0)
        return fail("cannot write", out_path);
#ifdef FIRMWARE
    uint32_t *low = lowest_used(); /* reading and writing the files included, printing not */
    if (low > before) low = before;
    printf("images=%lu ticks=%llu fastest=%lu slowest=%lu calibration_ticks=%lu calibration_instructions=%lu "
           "engine_stack=%lu stack=%lu stack_size=%lu\n",
           (unsigned long)count, (unsigned long long)total, (unsigned long)fastest, (unsigned long)slowest,
           (unsigned long)calibration, (unsigned long)(2 * CALIBRATION),
           (unsigned long)((uintptr_t)sp - (uintptr_t)engine_low),
           (unsigned long)((uintptr_t)__stack_top - (uintptr_t)low),
           (unsigned long)((uintptr_t)__stack_top - (uintptr_t)__stack_limit));
#else
    printf("images=%lu seconds=%.6f\n", (unsigned long)count, seconds);
#endif
    free(images);
    free(logits);
    return 0;
}
