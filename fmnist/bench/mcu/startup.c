/* The smallest start for qemu's mps2-an386 (Cortex-M4F): a vector table, then a reset handler that
 * copies .data, zeroes .bss, paints the stack (main.c measures how deep it went), enables the FPU,
 * opens the semihosting console and calls main. A fault, or main returning non-zero, ends qemu with
 * exit status 1 (newlib's exit reports every status to qemu as a normal end). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit[], __stack_top[];
extern void initialise_monitor_handles(void);
extern int main(int argc, char **argv);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

static void fail(void) { /* semihosting SYS_EXIT, ADP_Stopped_RunTimeError */
    register uint32_t operation __asm__("r0") = 0x18, reason __asm__("r1") = 0x20023;
    __asm__ volatile("bkpt 0xab" : : "r"(operation), "r"(reason) : "memory");
    for (;;) {
    }
}

void Reset_Handler(void) {
    for (uint32_t *from = __data_load, *to = __data_start; to < __data_end;) *to++ = *from++;
    for (uint32_t *p = __bss_start__; p < __bss_end__;) *p++ = 0;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = __stack_limit; p < sp;) *p++ = 0xA5A5A5A5u; /* volatile: no memset call */
    CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
    __asm__ volatile("dsb\n\tisb");
    initialise_monitor_handles();
    int status = main(0, NULL);
    fflush(NULL);
    if (status) fail();
    exit(0);
}

void Fault_Handler(void) { fail(); }

#define HANDLER(f) ((uintptr_t)(f))
__attribute__((section(".isr_vector"), used)) static const uintptr_t vectors[16] = {
    (uintptr_t)__stack_top, HANDLER(Reset_Handler), /* then NMI, the faults, SVC, debug, PendSV, SysTick */
    HANDLER(Fault_Handler), HANDLER(Fault_Handler), HANDLER(Fault_Handler), HANDLER(Fault_Handler),
    HANDLER(Fault_Handler), 0, 0, 0, 0, HANDLER(Fault_Handler), HANDLER(Fault_Handler), 0,
    HANDLER(Fault_Handler), HANDLER(Fault_Handler),
};
