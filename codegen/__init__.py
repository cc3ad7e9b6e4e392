"""From an integer model to checked C: generation, build with arm-none-eabi-gcc, ELF size and
integer-only checks, and an emulated Cortex-M0."""
