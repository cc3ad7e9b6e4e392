"""The Explore pane's sweep against `qnn sweep` on the same data and grid: wall seconds of
each, in the same run (the pane headless at 80x24, keys 5 then s, from the key to the sweep's
end; the CLI as a user runs it, a fresh process). Both measure every point on the emulated
M0, so both need arm-none-eabi-gcc.

    .venv/bin/python bench/bench_explore.py [--n 20000] [--epochs 150,30,5] [--rounds 2]
                                            [--cold]

The default project (magnet6, 20k samples, 6-16-16-6, default epochs) and the pane's default
grid (weights 8/4/3/2 x activations 8/6/4 bits: 12 points). JAX's compiles are cached on
disk (QNN_JAX_CACHE) and shared: the first round pays them, the later rounds are warm. With
--cold the pane and the CLI each start with an empty cache of their own (compiles included,
as on a fresh machine); the pane's process then keeps what it compiled in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qnn.project import PROJECT_FILE
from qnn.sweepconf import DEFAULTS


async def pane_sweep(proj: Path) -> tuple[float, float]:
    """(wall seconds from the s key to the sweep's end, the sweep's own seconds)."""
    from qnn_tui.app import QnnApp

    app = QnnApp(proj, warm_up=True)
    async with app.run_test(size=(80, 24)) as pilot:
        while any(w.name == "warm-up" and not w.is_finished for w in app.workers):
            await pilot.pause(0.1)
        before = app.session.sweep
        t0 = time.perf_counter()
        await pilot.press("5", "s")
        while app.session.sweep is before or app.running():
            await pilot.pause(0.05)
        wall = time.perf_counter() - t0
        return wall, float(app.session.sweep["seconds"])


def cli_sweep(data: Path, out: Path, epochs: str, env: dict[str, str]) -> float:
    ints = ",".join
    cmd = [sys.executable, "-m", "cli.main", "sweep", "--data", str(data), "--out", str(out),
           "--hidden", "16,16", "--wbits", ints(map(str, DEFAULTS["w_bits"])),
           "--abits", ints(map(str, DEFAULTS["a_bits"])), "--epochs", epochs, "--quiet",
           "--json"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=Path(__file__).parents[1],
                   env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--epochs", default="150,30,5")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cold", action="store_true", help="empty JAX caches, one each")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.cold:
        os.environ["QNN_JAX_CACHE"] = tempfile.mkdtemp(prefix="qnn-jax-pane-")
        env["QNN_JAX_CACHE"] = tempfile.mkdtemp(prefix="qnn-jax-cli-")
    proj = Path(tempfile.mkdtemp(prefix="qnn-bench-explore-"))
    (proj / PROJECT_FILE).write_text(json.dumps(
        {"n": args.n, "epochs": [int(e) for e in args.epochs.split(",")]}))
    from qnn.project import open_project
    from qnn_tui.core import generate_dataset

    generate_dataset(open_project(proj).project, proj / "dataset.npz")  # not timed
    grid = (f"{len(DEFAULTS['w_bits']) * len(DEFAULTS['a_bits'])} points (w "
            f"{'/'.join(map(str, DEFAULTS['w_bits']))} x a "
            f"{'/'.join(map(str, DEFAULTS['a_bits']))}) of 6-16-16-6, {args.n} samples, epochs "
            f"{args.epochs}")
    print(f"sweep of {grid}:")
    for k in range(args.rounds):
        wall, own = asyncio.run(pane_sweep(proj))
        cli = cli_sweep(proj / "dataset.npz", proj / f"cli-{k}", args.epochs, env)
        print(f"  round {k + 1}: pane {wall:6.1f} s (its sweep {own:.1f} s)   qnn sweep "
              f"{cli:6.1f} s (process)   pane / CLI = {wall / cli:.2f}")


if __name__ == "__main__":
    main()
