"""`qnn sweep --data FILE --out DIR`: train a grid of layer sizes and bit widths (bit widths
of the same sizes side by side, in one computation), measure each on the emulated Cortex-M0,
print the Pareto front and MSE against flash and cycles; with a budget, save the most
accurate configuration within it as DIR/best/ (ready for `qnn export`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.commands._common import add_command
from cli.commands.export import add_variant_arg
from cli.commands.train import int_list
from common.errors import QnnError

DEFAULT_HIDDEN = [(8, 8), (12, 12), (16, 16)]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "sweep", "train and measure a grid of sizes and bit widths; "
                    "print the Pareto front of MSE, flash and cycles", run, human)
    p.add_argument("--data", required=True, help="dataset file (.npz from `qnn sim`, or .csv)")
    p.add_argument("--out", required=True, help="folder for sweep.json (and best/)")
    p.add_argument("--hidden", type=int_list, nargs="+", default=DEFAULT_HIDDEN,
                   metavar="H,H", help="hidden sizes to try (default 8,8 12,12 16,16)")
    p.add_argument("--wbits", type=int_list, default=(2, 3, 4, 6, 8),
                   help="weight bits to try (default 2,3,4,6,8)")
    p.add_argument("--abits", type=int_list, default=(4, 6, 8),
                   help="activation bits to try (default 4,6,8)")
    p.add_argument("--per-layer", action="store_true",
                   help="search per-layer weight bits greedily from the widest (the first "
                        "--hidden only): lower the layer that costs the least MSE per byte")
    add_variant_arg(p)
    p.add_argument("--max-flash", type=int, default=None, metavar="B",
                   help="flash budget (bytes of inference code and tables)")
    p.add_argument("--max-cycles", type=int, default=None, metavar="N",
                   help="cycles budget per inference (worst case)")
    p.add_argument("--max-us", type=float, default=None, metavar="US",
                   help="time budget per inference in µs at --clock-mhz (worst case)")
    p.add_argument("--epochs", type=int_list, default=None, metavar="F,Q,I",
                   help="epochs of the float, QAT and integer-exact phases (as `qnn train`)")
    p.add_argument("--clock-mhz", "--mhz", dest="mhz", type=float, default=48.0,
                   metavar="MHZ", help="the M0's clock, for cycles shown in µs and --max-us "
                   "(default 48)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def configs_from_args(args: argparse.Namespace) -> list[Any]:
    from explore.sweep import grid
    from qnn.config import TrainConfig

    base = TrainConfig(seed=args.seed)
    if args.epochs is not None:
        if len(args.epochs) != 3:
            raise QnnError("--epochs takes three numbers: float,qat,int (e.g. 150,30,5).")
        base.epochs_float, base.epochs_qat, base.epochs_int = args.epochs
    for what, values in (("--wbits", args.wbits), ("--abits", args.abits)):
        bad = [b for b in values if not 2 <= b <= 8]
        if bad:
            raise QnnError(f"{what} {bad[0]} outside 2..8; the C stores int8 / uint8.")
    cfgs = grid(base, [tuple(h) for h in args.hidden], sorted(set(args.wbits), reverse=True),
                sorted(set(args.abits), reverse=True))
    for c in cfgs:
        c.validate()
    return cfgs


def run(args: argparse.Namespace) -> dict[str, Any]:
    from explore.sweep import SweepResult, check_budget, point_json, sweep
    from sim.dataset import load_dataset

    check_budget(args.max_flash, args.max_cycles, args.max_us, args.mhz)
    cfgs = configs_from_args(args)
    ds = load_dataset(args.data)
    result = None
    for ev in sweep(ds, cfgs, Path(args.out), variant=args.variant, max_flash=args.max_flash,
                    max_cycles=args.max_cycles, max_us=args.max_us, clock_mhz=args.mhz,
                    per_layer=args.per_layer,
                    data_info={"path": str(args.data), "n": ds.n, "meta": ds.meta}):
        if isinstance(ev, SweepResult):
            result = ev
        elif not args.quiet and not args.json:
            print(f"[{ev.elapsed:6.1f} s] {ev.done}/{ev.total} {ev.stage}: {ev.detail}",
                  file=sys.stderr)
    assert result is not None
    budget = {"max_flash": args.max_flash, "max_cycles": args.max_cycles,
              "max_us": args.max_us}
    out = {"out": str(result.out), "variant": args.variant, "clock_mhz": args.mhz,
           "seconds": result.seconds,
           "train_seconds": result.train_seconds,
           "points": [point_json(p, args.mhz) for p in result.points],
           "front": [p.label for p in result.front],
           "budget": budget,
           "best": point_json(result.best, args.mhz) if result.best else None,
           "best_run": str(result.out / "best") if result.best else None,
           "ok": result.best is not None or all(v is None for v in budget.values())}
    if args.per_layer:
        from explore.perlayer import compare_uniform

        out["per_layer_vs_uniform"] = compare_uniform(result.points)
    return out


def uniform_table(rows: list[dict[str, Any]]) -> str:
    """The per-layer search's front against the best uniform width within the same flash."""
    if not rows:
        return ("per-layer vs uniform: no mixed widths on the front; a uniform width is as "
                "good at every flash.")
    lines = ["per-layer widths vs the best uniform width within the same flash:",
             f"{'per-layer':22s} {'flash B':>7s} {'MSE':>9s}   {'uniform':22s} {'flash B':>7s} "
             f"{'MSE':>9s} {'ratio':>6s}"]
    for r in rows:
        if r["uniform"] is None:
            lines.append(f"{r['per_layer']:22s} {r['flash_bytes']:7d} {r['mse']:9.4g}   "
                         "(no uniform width fits this flash)")
            continue
        lines.append(f"{r['per_layer']:22s} {r['flash_bytes']:7d} {r['mse']:9.4g}   "
                     f"{r['uniform']:22s} {r['uniform_flash_bytes']:7d} "
                     f"{r['uniform_mse']:9.4g} {r['mse_ratio']:6.2f}")
    return "\n".join(lines)


def front_table(points: list[dict[str, Any]], mhz: float = 48.0) -> str:
    rows = [p for p in points if p["pareto"]]
    rows.sort(key=lambda p: (p["mse"], p["flash_bytes"]))
    us = f"µs@{mhz:g}"
    lines = [f"{'configuration':28s} {'MSE':>11s} {'flash B':>8s} {'cycles':>7s} {us:>9s} "
             f"{'stack B':>7s}"]
    for p in rows:
        lines.append(f"{p['label']:28s} {p['mse']:11.4g} {p['flash_bytes']:8d} "
                     f"{p['cycles']:7d} {p['cycles'] / mhz:9.1f} {p['stack_bytes']:7d}")
    return "\n".join(lines)


def scatter(points: list[dict[str, Any]], x_key: str, xlabel: str, width: int = 72,
            height: int = 16) -> str:
    """MSE (log) against one cost, the front highlighted, drawn with plotext."""
    import math

    import plotext as plt

    f = plt.figure  # plotext keeps one global figure (as qnn_tui.plots)
    f.clear()
    f.plot_size(width, height)
    f.theme("clear")
    for on_front, marker in ((False, "dot"), (True, "x")):
        sel = [p for p in points if p["pareto"] == on_front]
        if sel:
            s = f.signal([float(p[x_key]) for p in sel],
                         [math.log10(max(p["mse"], 1e-30)) for p in sel], marker=marker)
            f.draw(s)  # no legend box: it would hide points; the title names the markers
    f.title(f"log10 MSE vs {xlabel}   (x: Pareto front, •: dominated)")
    f.label(xlabel, axis="x")
    text = str(f.build())
    f.clear()
    if not sys.stdout.isatty():
        text = plt.uncolorize(text)
    return text


def human(r: dict[str, Any]) -> str:
    pts = r["points"]
    out = [f"{len(pts)} configurations trained in {r['train_seconds']:.1f} s, measured "
           f"({r['variant']} variant) in {r['seconds'] - r['train_seconds']:.1f} s; "
           f"wrote {r['out']}/sweep.json", "Pareto front (MSE in output units on held-out "
           "rows; flash and cycles measured on the emulated M0):",
           front_table(pts, r["clock_mhz"])]
    if pts:
        out += [scatter(pts, "flash_bytes", "inference flash (B)"),
                scatter(pts, "cycles", "cycles per inference")]
    if "per_layer_vs_uniform" in r:
        out.append(uniform_table(r["per_layer_vs_uniform"]))
    b = r["budget"]
    if any(v is not None for v in b.values()):
        units = {"max_flash": " B", "max_cycles": " cycles", "max_us": f" µs at "
                 f"{r['clock_mhz']:g} MHz"}
        within = ", ".join(f"{v:g}{units[k]}" for k, v in b.items() if v is not None)
        if r["best"]:
            p = r["best"]
            out.append(f"best within {within}: {p['label']}  MSE {p['mse']:.4g}, "
                       f"{p['flash_bytes']} B, {p['cycles']} cycles ({p['us']:.1f} µs); "
                       f"saved {r['best_run']} (`qnn export {r['best_run']} --out DIR`)")
        else:
            out.append(f"no configuration fits {within}; widen the budget or try smaller "
                       "sizes / fewer bits.")
    return "\n".join(out)
