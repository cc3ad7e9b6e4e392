"""Bit-width configurations of one network, trained side by side in one jitted computation.

Configurations that differ only in weight / activation bits share the float phase: same
sizes, same seed, so the same float network. It is trained once (qnn.train.train with no
quantized epochs); then each configuration gets its own copy of the parameters, its own
quantizer steps (initialised for its bits) and its own Adam state, stacked on a leading
axis, and the qat and int phases run as jax.vmap of the very epoch qnn.train compiles, with
the bit widths as data: clip bounds in `consts` (qnn.network.BOUND_KEYS) rather than
compile-time constants. Every configuration sees the same batches, learning rates and
penalty weights as `qnn train` of it would.

Each configuration's integer model is exported through qnn.export.int_model_from_params, the
path `qnn train` uses, so it is bit-exact with the numpy reference (qnn.intmodel).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import jax
import numpy as np

from common.errors import QnnError
from qnn import network as net
from qnn.config import TrainConfig
from qnn.epoch import ADAM, epoch_body
from qnn.export import int_model_from_params
from qnn.schedule import shuffled_batches
from qnn.steps import init_steps
from qnn.train import Progress, TrainResult, host_data, loss_level_of, phase_schedule, train


@functools.lru_cache(maxsize=16)
def grid_epoch_fn(spec: net.NetSpec, const_keys: tuple[str, ...]):
    """The quantized epoch of qnn.train, vmapped over configurations: params, Adam state and
    the bit-width bounds in consts carry a leading configuration axis; batches, schedules,
    data and the data-derived constants are shared."""
    consts_axes = {k: (0 if k in net.BOUND_KEYS else None) for k in const_keys}
    return jax.jit(jax.vmap(epoch_body(True, spec),
                            in_axes=(0, 0, None, None, None, None, None, None, consts_axes,
                                     None, None)))


adam_init_many = jax.jit(jax.vmap(ADAM.init))


def _stack(trees: list) -> list[dict[str, np.ndarray]]:
    return [{k: np.stack([np.asarray(t[i][k]) for t in trees]) for k in trees[0][i]}
            for i in range(len(trees[0]))]


def _unstack(tree, c: int) -> list[dict[str, np.ndarray]]:
    return [{k: np.asarray(v[c]) for k, v in layer.items()} for layer in tree]


def check_grid(cfgs: list[TrainConfig]) -> None:
    """Configurations trained together may differ only in their bit widths."""
    if not cfgs:
        raise QnnError("no configuration to train; give at least one bit width.")
    for c in cfgs:
        c.validate()
        if replace(c, w_bits=0, a_bits=0) != replace(cfgs[0], w_bits=0, a_bits=0):
            raise QnnError("configurations trained together must differ only in bit widths.")


def train_grid(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
               cfgs: list[TrainConfig], *, names: dict[str, list[str]] | None = None,
               stop: Callable[[], bool] = lambda: False
               ) -> Iterator[Progress | list[TrainResult]]:
    """Train every configuration of `cfgs` (same sizes, bits differ); yields a Progress per
    epoch (for the quantized phases: the best configuration's validation losses) and finally
    one TrainResult per configuration, in order."""
    check_grid(cfgs)
    t_start = time.perf_counter()
    base = replace(cfgs[0], epochs_qat=0, epochs_int=0)
    float_result = None
    for event in train(x_train, y_train, x_val, y_val, base, names=names, stop=stop):
        if isinstance(event, TrainResult):
            float_result = event
        else:
            yield replace(event, epochs=base.epochs_float + cfgs[0].epochs_qat
                          + cfgs[0].epochs_int)
    assert float_result is not None
    cfg0, stats = cfgs[0], float_result.stats
    n_in, n_out = x_train.shape[1], y_train.shape[1]
    specs = [c.spec(n_in, n_out) for c in cfgs]
    # Replay the float phase's draws: each configuration then shuffles as `qnn train` of it.
    rng = np.random.default_rng(cfg0.seed)
    net.init_params(rng, specs[0])
    n_train = x_train.shape[0]
    batch = min(cfg0.batch_size, n_train)
    n_batches = n_train // batch
    done_float = sum(p.phase == "float" for p in float_result.history)
    for _ in range(done_float):
        shuffled_batches(rng, n_train, batch)

    train_np = host_data(stats, x_train, y_train)
    data_t, data_v = jax.device_put(train_np), jax.device_put(host_data(stats, x_val, y_val))
    a0_sample = train_np[0][:4096]
    float_params = float_result.float_params
    params = _stack([init_steps(float_params, a0_sample, s) for s in specs])
    consts = dict(net.make_consts(stats))
    bounds = [net.bounds_of(s) for s in specs]
    consts.update(jax.device_put({k: np.stack([b[k] for b in bounds]) for k in net.BOUND_KEYS}))
    run_epoch = grid_epoch_fn(specs[0], tuple(sorted(consts)))
    loss_level = loss_level_of(float_result.history)
    n_cfg = len(cfgs)
    histories: list[list[Progress]] = [list(float_result.history) for _ in cfgs]
    best_val = np.full(n_cfg, np.inf)
    best_epoch = np.zeros(n_cfg, int)
    best_params = params
    plan = [("qat", cfg0.epochs_qat), ("int", cfg0.epochs_int)]
    total = done_float + sum(e for _, e in plan)
    epoch_no, stopped = done_float, float_result.stopped
    for phase, n_epochs in plan:
        if n_epochs == 0 or stopped:
            continue
        sched = phase_schedule(cfg0, phase, n_epochs, n_batches, loss_level)
        adam_state = adam_init_many(params)
        for e in range(n_epochs):
            if stop():
                stopped = True
                break
            t0 = time.perf_counter()
            batches = shuffled_batches(rng, n_train, batch)
            params, adam_state, loss, vals = run_epoch(
                params, adam_state, sched.lrs[e], sched.dampen[e], batches, sched.exact,
                sched.learn_steps, sched.decay, consts, data_t, data_v)
            loss, (v_float, v_fq, v_int) = np.asarray(loss), (np.asarray(v) for v in vals)
            dt = time.perf_counter() - t0
            epoch_no += 1
            elapsed = time.perf_counter() - t_start
            for c in range(n_cfg):
                histories[c].append(Progress(phase, epoch_no, total, float(loss[c]),
                                             float(v_float[c]), float(v_fq[c]),
                                             float(v_int[c]), n_train / dt, elapsed))
            # As in qnn.train: keep each configuration's best-validating integer model.
            better = v_int < best_val
            if better.any():
                host = jax.tree.map(np.asarray, params)
                best_params = [{k: np.where(better.reshape((-1,) + (1,) * (v.ndim - 1)),
                                            v, best_params[i][k])
                                for k, v in layer.items()} for i, layer in enumerate(host)]
                best_val = np.where(better, v_int, best_val)
                best_epoch = np.where(better, epoch_no, best_epoch)
            c_best = int(np.argmin(v_int))
            yield Progress(phase, epoch_no, total, float(loss[c_best]), float(v_float[c_best]),
                           float(v_fq[c_best]), float(v_int[c_best]), n_train * n_cfg / dt,
                           elapsed)
    plain = net.make_consts(stats)  # the export path: bounds from each spec, as `qnn train`
    results = []
    for c, (cfg, spec) in enumerate(zip(cfgs, specs, strict=True)):
        p = _unstack(best_params, c)
        model = int_model_from_params(p, spec, stats, plain, names or {}, cfg)
        results.append(TrainResult(cfg, spec, stats, p, float_params, model, histories[c],
                                   stopped, time.perf_counter() - t_start,
                                   int(best_epoch[c]) or epoch_no))
    yield results
