"""Measure one integer model as the firmware engineer will meet it: its MSE on held-out data in
the outputs' own units, and the generated code built for the Cortex-M0 (inference flash) and
run on the emulated core (cycles per inference, peak stack), bit for bit against the numpy
reference. Nothing here is estimated."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from codegen.cgen import write_c
from common.errors import QnnError
from firmware.build import build_firmware
from firmware.elfinfo import check_integer_only, size_report
from m0.emulator import run_inferences
from qnn.intmodel import IntModel, predict_int

N_TIMED = 256  # rows run on the emulated M0: the extremes, then held-out rows


def mse_in_units(model: IntModel, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The integer model's MSE in output units: the mean over outputs of each output's MSE
    (each in its own unit squared), and the per-output MSEs."""
    err = model.to_physical(predict_int(model, x)) - np.asarray(y, dtype=np.float64)
    per_output = np.mean(err**2, axis=0)
    return float(per_output.mean()), per_output


def timed_rows(x: np.ndarray, n: int = N_TIMED) -> np.ndarray:
    """All-0 and all-65535 rows, then the first held-out rows."""
    extremes = np.array([np.zeros(x.shape[1]), np.full(x.shape[1], 65535)], dtype=np.int64)
    return np.concatenate([extremes, np.asarray(x[: max(n - 2, 0)], dtype=np.int64)])


def measure(model: IntModel, x: np.ndarray, y: np.ndarray, variant: str = "loop",
            slow_multiply: bool = False, workdir: Path | None = None) -> dict[str, Any]:
    """MSE (output units), inference flash, max cycles, peak stack of `model`'s `variant`."""
    mse, per_output = mse_in_units(model, x, y)
    with tempfile.TemporaryDirectory(prefix="qnn-measure.", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        write_c(model, tmp, variant)
        build_firmware(tmp, tmp)
        elf = tmp / "qnn.elf"
        report = size_report(elf)
        problems = check_integer_only(elf)
        rows = timed_rows(x)
        res = run_inferences(elf, rows.astype(np.uint16), model.n_out,
                             slow_multiply=slow_multiply)
    mismatches = int((res.outputs != predict_int(model, rows)).sum())
    if mismatches or problems:
        raise QnnError(f"the generated {variant} code is not bit-exact or not integer-only "
                       f"({mismatches} mismatches; {'; '.join(problems) or 'no helper'}); "
                       "report this model.")
    return {
        "mse": mse,
        "mse_per_output": [float(v) for v in per_output],
        "flash_bytes": int(report.inference_flash),
        "cycles": int(res.cycles.max()),
        "cycles_mean": float(res.cycles.mean()),
        "stack_bytes": int(res.peak_stack),
        "bit_exact_rows": int(len(rows)),
    }
