"""Every action of the workbench as a command-palette entry (ctrl+p)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.app import SystemCommand

ACTIONS = [
    ("Show Simulator", "pane 1: forward model, pose, readings", "show_tab('sim')"),
    ("Show Training", "pane 2: train, curves, RMSE and worst errors", "show_tab('train')"),
    ("Show Quantization", "pane 3: bits, steps, M/shift, headroom, flash", "show_tab('quant')"),
    ("Show Codegen", "pane 4: C source, header, build, emulated M0", "show_tab('code')"),
    ("Show Explore", "pane 5: sweep bit widths, the Pareto front, pick a point",
     "show_tab('explore')"),
    ("Show Runs", "pane 6: every model made, its bits, MSE, flash, cycles", "show_tab('runs')"),
    ("Generate dataset", "simulate the dataset of the project (key g)", "generate"),
    ("Import recorded dataset", "a .npz or .csv from the sensor rig (key i, pane 1)",
     "import_data"),
    ("Train", "train from scratch (key t)", "train"),
    ("Pause / resume training", "between epochs (key p)", "pause"),
    ("Stop training", "keep the model so far (key x)", "stop"),
    ("Fine-tune at the current bit widths", "qat + int phases from the last model (key f)",
     "finetune"),
    ("Build and verify", "arm-none-eabi-gcc, size report, emulated Cortex-M0 (key b)", "build"),
    ("Export C to a folder", "qnn_model.c/.h for your firmware (key e, pane 4)", "export"),
    ("Set the M0 clock", "MHz, for microseconds per inference (key k, pane 4 or 5)", "clock"),
    ("Sweep bit widths", "train and measure the Explore settings (key s, pane 5)", "sweep"),
    ("Cancel the sweep", "keep the points measured so far (key x, pane 5)", "stop_sweep"),
    ("Save project", "write project.json now (ctrl+s)", "save"),
    ("Help", "the key map (?)", "help"),
]


def system_commands(app: Any) -> Iterator[SystemCommand]:
    for title, help_text, action in ACTIONS:
        yield SystemCommand(title, help_text,
                            lambda a=action: app.call_later(app.run_action, a))
