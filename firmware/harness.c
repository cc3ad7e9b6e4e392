/* The emulation harness: main() runs one inference on fixed buffers and stops.
 *
 * The emulator (codegen/m0.py) does not go through main() for each inference: it runs
 * Reset_Handler once up to main (so .data and .bss are initialised exactly as on the chip),
 * then calls qnn_predict itself with r0 = qnn_harness_in, r1 = qnn_harness_out and the
 * return address set to qnn_harness_done, where it stops. main() is what a debugger or a
 * real board would run, and it keeps qnn_predict alive through --gc-sections.
 *
 * The buffer sizes come from QNN_N_IN / QNN_N_OUT in the generated qnn_model.h, and their
 * symbol sizes in the ELF tell the emulator the model's shape.
 */

#include <stdint.h>

#include "qnn_model.h"

uint16_t qnn_harness_in[QNN_N_IN];
int16_t qnn_harness_out[QNN_N_OUT];

/* The address the emulator returns to: a breakpoint the core never passes. */
__attribute__((naked, noinline, used)) void qnn_harness_done(void)
{
    __asm volatile("bkpt #0x00\n\tb qnn_harness_done");
}

int main(void)
{
    qnn_predict(qnn_harness_in, qnn_harness_out);
    qnn_harness_done();
    return 0;
}
