"""Check a run's firmware bit for bit on the emulated Cortex-M0: every dataset row plus random
full-range inputs (all-0 and all-65535 included) against the numpy integer reference. The CLI
(`qnn verify`) and the workbench both call `verify`; `lang` picks the C or the Rust model,
built around the same harness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from firmware.make import build
from m0.emulator import run_inferences
from qnn.intmodel import check_compatible, predict_int
from qnn.run import load_int_model


def random_inputs(n: int, n_in: int, seed: int = 0) -> np.ndarray:
    """n uniformly random uint16 rows, the first two all-0 and all-65535 (when n >= 2)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65536, (n, n_in), dtype=np.int64)
    if n >= 1:
        x[0] = 0
    if n >= 2:
        x[1] = 65535
    return x


def verify(run: str | Path, data: str | Path | None = None, n_random: int = 1000, *,
           variant: str = "loop", out: str | Path | None = None, slow_multiply: bool = False,
           seed: int = 0, lang: str = "c") -> dict[str, Any]:
    model = load_int_model(run)
    parts = []
    n_data = 0
    if data is not None:
        from sim.dataset import load_dataset

        ds = load_dataset(data)
        check_compatible(model, ds, need_y=False)
        x_data = np.asarray(ds.x, dtype=np.int64)
        parts.append(x_data)
        n_data = len(x_data)
    parts.append(random_inputs(max(n_random, 2), model.n_in, seed))
    x = np.concatenate(parts)
    b = build(run, out, variant, reuse=True, lang=lang)
    res = run_inferences(Path(b["elf"]), x.astype(np.uint16), model.n_out,
                         slow_multiply=slow_multiply)
    ref = predict_int(model, x)
    wrong = res.outputs != ref
    bad_rows = np.nonzero(wrong.any(axis=1))[0]
    first = None
    if len(bad_rows):
        r = int(bad_rows[0])
        first = {"row": r, "input": x[r].tolist(), "m0": res.outputs[r].tolist(),
                 "reference": ref[r].tolist()}
    c = res.cycles
    return {
        "ok": bool(len(bad_rows) == 0 and b["ok"]),
        "run": str(run),
        "variant": variant,
        "lang": lang,
        "elf": b["elf"],
        "build_ok": b["ok"],
        "inferences": int(len(x)),
        "dataset_rows": n_data,
        "random_rows": int(len(x) - n_data),
        "mismatches": int(wrong.sum()),
        "mismatched_rows": int(len(bad_rows)),
        "first_mismatch": first,
        "cycles": {"min": int(c.min()), "mean": float(c.mean()), "max": int(c.max())},
        "cycles_per_mac": float(c.mean()) / model.n_macs,
        "slow_multiply": slow_multiply,
        "peak_stack": int(res.peak_stack),
        "inference_flash": int(b["size"]["inference_flash"]),
    }
