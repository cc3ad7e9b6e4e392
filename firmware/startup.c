/* Cortex-M0 startup: the vector table, the reset handler and the fault handlers.
 *
 * On reset the core loads SP from word 0 of the vector table and jumps to the address in
 * word 1 (Reset_Handler). Reset_Handler prepares RAM the way C expects it (.data holds its
 * initial values, .bss is zero) and calls main(). There is no libc: nothing else runs
 * before main.
 */

#include <stdint.h>

/* Symbols defined by the linker script m0.ld. */
extern uint32_t __data_load[];  /* initial values of .data, in flash */
extern uint32_t __data_start[]; /* .data in RAM */
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern uint32_t __stack_top[];

int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);

/* A fault stops the core at a breakpoint that names the fault, then spins in a loop whose
 * symbol (qnn_fault_loop) a debugger or the emulator recognises. */
__attribute__((noreturn, noinline)) void qnn_fault_loop(void)
{
    for (;;) {
    }
}

void HardFault_Handler(void)
{
    __asm volatile("bkpt #0xF1");
    qnn_fault_loop();
}

void Default_Handler(void)
{
    __asm volatile("bkpt #0xF0");
    qnn_fault_loop();
}

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

/* The ARMv6-M vector table: 16 system entries (device interrupts are not used here). */
__attribute__((section(".isr_vector"), used))
void (*const qnn_vector_table[16])(void) = {
    (void (*)(void))__stack_top, /*  0: initial stack pointer */
    Reset_Handler,               /*  1: reset */
    NMI_Handler,                 /*  2: NMI */
    HardFault_Handler,           /*  3: hard fault (the only fault on ARMv6-M) */
    0, 0, 0, 0, 0, 0, 0,         /*  4-10: reserved */
    SVC_Handler,                 /* 11: SVCall */
    0, 0,                        /* 12-13: reserved */
    PendSV_Handler,              /* 14: PendSV */
    SysTick_Handler,             /* 15: SysTick */
};

void Reset_Handler(void)
{
    /* Copy the initial values of .data from flash to RAM. The pointers are volatile so
     * that GCC does not turn these loops into calls to memcpy/memset, which do not exist
     * here. */
    volatile uint32_t *src = __data_load;
    volatile uint32_t *dst = __data_start;
    while (dst < __data_end) {
        *dst++ = *src++;
    }

    /* Zero .bss. */
    for (volatile uint32_t *p = __bss_start; p < __bss_end; p++) {
        *p = 0;
    }

    main();

    /* main() should not return; if it does, stop where a debugger will notice. */
    __asm volatile("bkpt #0xF2");
    qnn_fault_loop();
}
