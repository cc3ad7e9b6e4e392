"""First paint of qnn-tui: seconds from interpreter start to the first frame (Textual's Ready
event), headless, in fresh processes (cold imports, as a user starting it).

    .venv/bin/python bench/bench_tui.py [--runs 5] [PROJECT_DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time
t0 = time.perf_counter()
from qnn_tui.app import QnnApp
t_import = time.perf_counter() - t0

class Bench(QnnApp):
    def on_ready(self) -> None:
        self.exit(time.perf_counter() - t0)  # before QnnApp.on_ready draws the plots

app = Bench(sys.argv[1], warm_up=sys.argv[2] == "1")
paint = app.run(headless=True, size=(80, 24))
print(f"{t_import:.4f} {paint:.4f} {'jax' in sys.modules}")
"""


def first_paint(project: str, warm: bool = True) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, project, "1" if warm else "0"],
                         capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    t_import, paint, jax = out.stdout.split()[-3:]
    return {"import_s": float(t_import), "first_paint_s": float(paint),
            "process_wall_s": wall, "jax_loaded_at_paint": jax == "True"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("project", nargs="?", default=None)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-warm-up", action="store_true", help="without the JAX import thread")
    args = ap.parse_args()
    project = args.project or tempfile.mkdtemp(prefix="qnn-tui-bench-")
    runs = [first_paint(project, not args.no_warm_up) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in ("import_s", "first_paint_s",
                                                                "process_wall_s")}
    print(json.dumps({"runs": args.runs, "median": med,
                      "first_paint_s": [round(r["first_paint_s"], 3) for r in runs]}, indent=1))


if __name__ == "__main__":
    main()
