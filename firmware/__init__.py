"""Hand-written Cortex-M0 firmware: vector table and reset handler (startup.c), linker script
(m0.ld) and the emulation harness (harness.c). Built around the generated qnn_model.c by
`firmware.build`."""

from pathlib import Path

FIRMWARE_DIR: Path = Path(__file__).resolve().parent
"""The folder holding startup.c, harness.c and m0.ld."""
