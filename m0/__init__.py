"""The emulated Cortex-M0 (unicorn): runs the built firmware ELF, counts cycles and stack,
and checks the generated code bit for bit against the numpy integer reference."""
