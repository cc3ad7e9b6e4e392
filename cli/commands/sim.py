"""`qnn sim`: generate a dataset from a forward model (or list the models)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from cli.commands._common import add_command
from common.errors import QnnError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "sim", "simulate sensor readings for random poses -> dataset (.npz)",
                    run, human)
    p.add_argument("--model", default="magnet6", help="forward model (see --list)")
    p.add_argument("--n", type=int, default=100_000, help="number of samples")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    p.add_argument("--out", help="output file, .npz (or .csv)")
    p.add_argument("--params", help="JSON file overriding some of the model's parameters")
    p.add_argument("--no-noise", action="store_true", help="noise-free readings")
    p.add_argument("--list", action="store_true", help="list the models and exit")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    from sim.dataset import generate, save_dataset
    from sim.identify import identifiability
    from sim.models import MODELS, get_model

    if args.list:
        return {"models": [m.info() for m in MODELS.values()]}
    if not args.out:
        raise QnnError("no output file; pass --out data.npz.")
    if Path(args.out).suffix not in (".npz", ".csv"):
        raise QnnError(f"{args.out}: unsupported extension; use --out NAME.npz (or .csv).")
    model = get_model(args.model)
    params = _read_params(args.params) if args.params else None
    t0 = time.perf_counter()
    ds = generate(model.name, n=args.n, seed=args.seed, params=params, noise=not args.no_noise)
    seconds = time.perf_counter() - t0
    ident = identifiability(model, params, n=256, seed=args.seed)
    path = save_dataset(ds, args.out)
    return {
        "path": str(path),
        "model": model.name,
        "n": ds.n,
        "seed": args.seed,
        "n_in": ds.n_in,
        "n_out": ds.n_out,
        "min_singular_value": ident["min_singular_value"],
        "median_min_singular_value": ident["median_min_singular_value"],
        "saturated_fraction": ident["saturated_fraction"],
        "seconds": round(seconds, 3),
    }


def _read_params(path: str) -> dict[str, Any]:
    try:
        params = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise QnnError(f"{path}: no such parameter file; write one from default_params() "
                       "or drop --params.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QnnError(f"{path}: not valid JSON ({type(e).__name__}); fix the file.") from None
    if not isinstance(params, dict):
        raise QnnError(f"{path}: must hold a JSON object of parameter names to values.")
    return params


def human(result: dict[str, Any]) -> str:
    if "models" in result:
        return "\n".join(
            f"{m['name']:10s} {len(m['input_names'])} in -> {len(m['output_names'])} out "
            f"({', '.join(m['output_names'])}): {m['description']}" for m in result["models"]
        )
    return (f"wrote {result['path']}: {result['n']} samples of {result['model']} "
            f"({result['n_in']} readings -> {result['n_out']} outputs) in "
            f"{result['seconds']:.2f} s; smallest Jacobian singular value "
            f"{result['min_singular_value']:.3g} counts per half-range "
            f"(median {result['median_min_singular_value']:.3g})")
