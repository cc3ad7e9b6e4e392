"""Side by side with TensorFlow: the same split and architecture, trained the Keras way (float,
then QAT with tensorflow-model-optimization, then a full-integer int8 .tflite run by LiteRT,
inputs and outputs scaled on the host) and with `qnn train`'s defaults; test MSE in the
outputs' own units (mean over outputs of each output's MSE) and wall times.

    make compare-tf        # or: .venv/bin/python bench/compare_tf.py [--seeds 0,1,2]

TensorFlow lives in its own virtual environment (.venv-tf, created here on first use with
the pins below), so the product's environment never sees its pins; its side runs in
bench/tf_worker.py, exchanging arrays through .npz files. Datasets: magnet6 and arm2 (20k
train / 5k test from sim/) and scikit-learn's bundled diabetes data (442 patients, 10 raw
features mapped linearly to uint16 counts; nothing is downloaded). Our wall time is the
`qnn train` process from launch to exit (JAX import, compiles and run folder included):
"cold" with an empty compile cache (each dataset's first seed), "warm" the median of the
others. TensorFlow's is its worker process from launch to exit (import, float and QAT fits,
conversion, LiteRT inference). Writes build/compare_tf/results.json and table.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from compare_math import mse_units, to_counts  # noqa: E402

from qnn.pipeline import eval_run  # noqa: E402
from sim.dataset import Dataset, generate, save_dataset, split  # noqa: E402

TF_PINS = ["tensorflow-cpu==2.19.1", "tensorflow-model-optimization==0.8.0",
           "ai-edge-litert==2.3.0", "numpy==1.26.4"]
TF_NO_DEPS = ["tf-keras==2.19.0"]  # with its deps it would pull the full GPU `tensorflow`
# The Keras recipe of the issue: 200 float epochs, then 50 of QAT at a tenth of the rate.
TF_RECIPE = {"epochs_float": 200, "epochs_qat": 50, "batch_size": 256, "lr": 1e-3}
DATASETS = ("magnet6", "arm2", "diabetes")


def installed(python: Path) -> list[str]:
    """`name==version` of the pinned packages as installed in an environment ([] if none)."""
    names = [p.split("==")[0] for p in TF_PINS + TF_NO_DEPS]
    code = ("import importlib.metadata as m, sys\nfor n in sys.argv[1:]:\n"
            "    try: print(f'{n}=={m.version(n)}')\n    except m.PackageNotFoundError: pass")
    if not python.is_file():
        return []
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return out.stdout.split()


def ensure_tf_venv(venv: Path) -> Path:
    """The TensorFlow environment's python, creating the venv with exactly the pins."""
    python = venv / "bin" / "python"
    if installed(python) == TF_PINS + TF_NO_DEPS:
        return python
    print(f"creating {venv} ({', '.join(TF_PINS + TF_NO_DEPS)}) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *TF_PINS], check=True)
    subprocess.run([*pip, "--no-deps", *TF_NO_DEPS], check=True)
    return python


def diabetes() -> Dataset:
    """scikit-learn's bundled diabetes data, raw (unscaled) features as uint16 counts."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False)
    return Dataset(to_counts(d.data), d.target.reshape(-1, 1).astype(np.float32),
                   list(d.feature_names), ["counts"] * 10, ["progression"], [""],
                   {"source": "sklearn.datasets.load_diabetes(scaled=False)"})


def train_test(name: str) -> tuple[Dataset, Dataset]:
    """The fixed train/test split of a dataset: 20k/5k of 25k simulated poses, or 80/20."""
    ds = diabetes() if name == "diabetes" else generate(name, n=25_000, seed=1)
    order = np.random.default_rng(0).permutation(ds.n)
    n_train = 20_000 if ds.n == 25_000 else round(0.8 * ds.n)

    def part(rows):
        return replace(ds, x=ds.x[rows], y=ds.y[rows])

    return part(order[:n_train]), part(order[n_train:])


def run_ours(train_path: Path, test_path: Path, run: Path, seed: int, w_bits: int,
             cache: Path) -> dict[str, float]:
    """`qnn train` with its defaults in a fresh process, then the test figures."""
    cmd = [sys.executable, "-m", "cli.main", "train", "--data", str(train_path), "--out",
           str(run), "--seed", str(seed), "--wbits", str(w_bits), "--quiet", "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "QNN_JAX_CACHE": str(cache)})
    wall = time.perf_counter() - t0
    m = eval_run(run, test_path)
    return {"mse_float": m["mse_float"], "mse_int": m["mse_int"], "wall": wall,
            "train": json.loads(out.stdout)["seconds"]}


def run_tf(python: Path, train: Dataset, test: Dataset, seed: int, work: Path
           ) -> dict[str, float]:
    """The Keras recipe on our split (the same train/validation cut as `qnn train`)."""
    tr, va = split(train, 0.1, seed=seed)
    src, dst = work / f"tf_in_{seed}.npz", work / f"tf_out_{seed}.npz"
    np.savez(src, x_train=tr.x.astype(np.float64), y_train=tr.y.astype(np.float64),
             x_val=va.x.astype(np.float64), y_val=va.y.astype(np.float64),
             x_test=test.x.astype(np.float64), hidden=np.array([16, 16]), seed=seed,
             **TF_RECIPE)
    t0 = time.perf_counter()
    subprocess.run([str(python), str(ROOT / "bench" / "tf_worker.py"), str(src), str(dst)],
                   check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    with np.load(dst) as d:
        return {"mse_float": mse_units(d["pred_float"], test.y),
                "mse_int8": mse_units(d["pred_int8"], test.y), "wall": wall,
                "train": float(d["seconds_float"] + d["seconds_qat"])}


def compare(name: str, seeds: list[int], python: Path, work: Path,
            earlier_tf: dict[int, dict[str, float]]) -> dict:
    """Every seed of one dataset: TensorFlow (or its earlier result, given), then ours at
    8-bit and 4-bit weights."""
    work.mkdir(parents=True, exist_ok=True)
    train, test = train_test(name)
    save_dataset(train, work / "train.npz")
    save_dataset(test, work / "test.npz")
    cache = work / "jax-cache"  # empty at first: the first seed's run is the cold one
    shutil.rmtree(cache, ignore_errors=True)
    rows: dict[str, list[dict[str, float]]] = {"tf": [], "ours8": [], "ours4": []}
    for seed in seeds:
        rows["tf"].append(earlier_tf.get(seed) or run_tf(python, train, test, seed, work))
        for bits in (8, 4):
            rows[f"ours{bits}"].append(run_ours(work / "train.npz", work / "test.npz",
                                                work / f"run{bits}_{seed}", seed, bits, cache))
        print(f"{name} seed {seed}: " + json.dumps({k: v[-1] for k, v in rows.items()}),
              file=sys.stderr)
    return {"n_train": train.n, "n_test": test.n, "seeds": seeds, **rows}


def reusable_tf(path: Path) -> dict[str, dict[int, dict[str, float]]]:
    """{dataset: {seed: TensorFlow's row}} of an earlier run with the same recipe and pins."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    if old.get("tf_recipe") != TF_RECIPE or old.get("tf_pins") != TF_PINS + TF_NO_DEPS:
        return {}
    return {name: dict(zip(r["seeds"], r["tf"], strict=True))
            for name, r in old["results"].items()}


def table(results: dict) -> str:
    """The markdown table: MSE (mean over seeds), ratio to TensorFlow's int8, wall times."""
    lines = ["| dataset | model | test MSE (units², mean of seeds) | per seed | "
             "× TF int8 | wall time per run |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        tf8 = np.mean([x["mse_int8"] for x in r["tf"]])
        tf_wall = np.median([x["wall"] for x in r["tf"]])
        tf_train = np.median([x["train"] for x in r["tf"]])

        def ours_wall(rows):
            cold, warm = rows[0]["wall"], np.median([x["wall"] for x in rows[1:] or rows])
            return f"{cold:.1f} s cold, {warm:.1f} s warm"

        entries = [
            ("TF float", [x["mse_float"] for x in r["tf"]], ""),
            ("TF int8 TFLite", [x["mse_int8"] for x in r["tf"]],
             f"{tf_wall:.1f} s (fits {tf_train:.1f} s)"),
            ("ours float", [x["mse_float"] for x in r["ours8"]], ""),
            ("ours integer, 8-bit", [x["mse_int"] for x in r["ours8"]], ours_wall(r["ours8"])),
            ("ours integer, 4-bit weights", [x["mse_int"] for x in r["ours4"]],
             ours_wall(r["ours4"])),
        ]
        for i, (label, v, wall) in enumerate(entries):
            seeds = " / ".join(f"{x:.4g}" for x in v)
            lines.append(f"| {name if i == 0 else ''} | {label} | {np.mean(v):.4g} | {seeds} | "
                         f"{np.mean(v) / tf8:.2f} | {wall} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="training seeds (comma-separated)")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--tf-venv", default=str(ROOT / ".venv-tf"))
    ap.add_argument("--out", default=str(ROOT / "build" / "compare_tf"))
    ap.add_argument("--reuse-tf", action="store_true",
                    help="take TensorFlow's figures from the last results.json (same recipe) "
                    "and rerun only ours")
    args = ap.parse_args()
    out = Path(args.out)
    earlier = reusable_tf(out / "results.json") if args.reuse_tf else {}
    python = ensure_tf_venv(Path(args.tf_venv))
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {name: compare(name, seeds, python, out / name, earlier.get(name, {}))
               for name in args.datasets.split(",")}
    (out / "results.json").write_text(json.dumps(
        {"tf_recipe": TF_RECIPE, "tf_pins": TF_PINS + TF_NO_DEPS, "results": results},
        indent=1) + "\n")
    text = table(results)
    (out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
