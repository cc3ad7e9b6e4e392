"""Quantization-aware training as a generator, in three phases:

1. float: the plain network (also the float baseline every quantized figure is compared to);
2. qat:   LSQ fake quantization of weights and activations, steps learned;
3. int:   steps frozen, the forward value is the integer-exact network (int32, dyadic
          requantization), gradients flow through the fake-quantized one (straight-through).
          The model exported is the model that was evaluated.

`train(...)` yields a `Progress` after every epoch and finally a `TrainResult`; it checks
`stop()` between epochs, so a CLI, a test or the workbench's worker can drive and cancel it.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from qnn import network as net
from qnn.config import TrainConfig
from qnn.export import int_model_from_params
from qnn.intmodel import IntModel, map_inputs
from qnn.stats import DataStats, compute_stats
from qnn.steps import init_steps

PHASES = ("float", "qat", "int")

# Compiles dominate short runs; keep them across processes (CLI, tests, the workbench).
jax.config.update("jax_compilation_cache_dir", os.environ.get(
    "QNN_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qnn-tui", "jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)


@dataclass
class Progress:
    phase: str
    epoch: int  # 1-based, over all phases
    epochs: int
    train_loss: float
    val_float: float
    val_fq: float | None
    val_int: float | None
    samples_per_s: float
    elapsed: float


@dataclass
class TrainResult:
    config: TrainConfig
    spec: net.NetSpec
    stats: DataStats
    params: list[dict[str, np.ndarray]]
    float_params: list[dict[str, np.ndarray]]
    int_model: IntModel
    history: list[Progress] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0
    best_epoch: int = 0  # the epoch whose integer model was kept


def _loss_fn(phase: str, spec: net.NetSpec, consts):
    def loss(params, a0, x_u16, yn):
        if phase == "float":
            pred = net.float_forward(params, a0, spec)
        else:
            pred = net.fq_forward(params, a0, spec, consts)
            if phase == "int":
                ip = jax.lax.stop_gradient(net.to_int_params(params, spec, consts))
                exact = net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts)
                pred = pred + jax.lax.stop_gradient(exact - pred)
        return jnp.mean((pred - yn) ** 2)

    return loss


def _optimizer(lr: float, steps: int) -> optax.GradientTransformation:
    return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))


@functools.lru_cache(maxsize=64)
def _epoch_fn(phase: str, spec: net.NetSpec, batch_size: int, lr: float, steps: int):
    """One jitted epoch (a lax.scan over shuffled batches), cached per configuration so a
    fine-tune or a second run in the same process compiles nothing; the data-derived
    constants are an argument, not baked in, so the persistent compile cache hits too."""
    opt = _optimizer(lr, steps)
    frozen = phase == "int"

    def step(carry, batch):
        params, opt_state, consts = carry
        value, grads = jax.value_and_grad(_loss_fn(phase, spec, consts))(params, *batch)
        if frozen:  # the dyadic multipliers depend on the steps: keep them fixed
            grads = [{k: (jnp.zeros_like(g) if k in ("sw", "sa") else g) for k, g in layer.items()}
                     for layer in grads]
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, consts), value

    @jax.jit
    def epoch(params, opt_state, key, consts, a0, x_u16, yn):
        n_batches = a0.shape[0] // batch_size
        perm = jax.random.permutation(key, a0.shape[0])[: n_batches * batch_size]
        batches = tuple(v[perm].reshape(n_batches, batch_size, -1) for v in (a0, x_u16, yn))
        (params, opt_state, _), losses = jax.lax.scan(step, (params, opt_state, consts), batches)
        return params, opt_state, jnp.mean(losses)

    return opt, epoch


def _mse(pred, yn):
    return jnp.mean((pred - yn) ** 2)


@functools.partial(jax.jit, static_argnums=(1,))
def _val_float(params, spec, consts, a0, x_u16, yn):
    return _mse(net.float_forward(params, a0, spec), yn)


@functools.partial(jax.jit, static_argnums=(1,))
def _val_fq(params, spec, consts, a0, x_u16, yn):
    return _mse(net.fq_forward(params, a0, spec, consts), yn)


@functools.partial(jax.jit, static_argnums=(1,))
def _val_int(params, spec, consts, a0, x_u16, yn):
    ip = net.to_int_params(params, spec, consts)
    return _mse(net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts), yn)


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: TrainConfig,
    *,
    names: dict[str, list[str]] | None = None,
    stop: Callable[[], bool] = lambda: False,
    init: TrainResult | None = None,
) -> Iterator[Progress | TrainResult]:
    """Train on uint16 readings -> float targets; see the module docstring.

    With `init`, start from an earlier result (same data, possibly new bit widths) and run
    only the qat and int phases: the workbench's fine-tune after a bit-width change.
    """
    cfg.validate()
    t_start = time.perf_counter()
    n_in, n_out = x_train.shape[1], y_train.shape[1]
    spec = cfg.spec(n_in, n_out)
    stats = init.stats if init else compute_stats(x_train, y_train, cfg.in_bits, cfg.out_lsb,
                                                         cfg.m_bits)
    consts = net.make_consts(stats)

    def device_data(x, y):
        a0 = map_inputs(stats.input_map, x).astype(np.float32)  # the reference's own map
        yn = ((y - stats.y_mean) / stats.y_std).astype(np.float32)
        return jnp.asarray(a0), jnp.asarray(x.astype(np.int32)), jnp.asarray(yn)

    train_data, val_data = device_data(x_train, y_train), device_data(x_val, y_val)
    key = jax.random.PRNGKey(cfg.seed)
    key, sub = jax.random.split(key)
    if init is None:
        params = net.init_params(sub, spec)
        float_params = None
        plan = [("float", cfg.epochs_float), ("qat", cfg.epochs_qat), ("int", cfg.epochs_int)]
    else:
        params = jax.tree.map(jnp.asarray, init.params)
        params = init_steps(params, train_data[0][:4096], spec, only_changed=init.spec)
        float_params = init.float_params
        plan = [("qat", cfg.epochs_finetune), ("int", cfg.epochs_int)]
    total = sum(e for _, e in plan)
    batch = min(cfg.batch_size, train_data[0].shape[0])
    history: list[Progress] = []
    epoch_no, stopped = 0, False
    best: tuple[float, int, object] | None = None  # (val_int, epoch, params)
    for phase, n_epochs in plan:
        if n_epochs == 0 or stopped:
            continue
        if phase == "qat" and init is None:
            float_params = net.params_to_numpy(params)
            params = init_steps(params, train_data[0][:4096], spec)
        lr = {"float": cfg.lr, "qat": cfg.lr / 3, "int": cfg.lr / 30}[phase]
        steps = n_epochs * (train_data[0].shape[0] // batch)
        opt, run_epoch = _epoch_fn(phase, spec, batch, lr, steps)
        opt_state = opt.init(params)
        for _ in range(n_epochs):
            if stop():
                stopped = True
                break
            t0 = time.perf_counter()
            key, sub = jax.random.split(key)
            params, opt_state, loss = run_epoch(params, opt_state, sub, consts, *train_data)
            loss = float(loss)
            dt = time.perf_counter() - t0
            epoch_no += 1
            quantized = phase != "float"
            p = Progress(
                phase, epoch_no, total, loss,
                float(_val_float(params, spec, consts, *val_data)),
                float(_val_fq(params, spec, consts, *val_data)) if quantized else None,
                float(_val_int(params, spec, consts, *val_data)) if quantized else None,
                train_data[0].shape[0] / dt, time.perf_counter() - t_start,
            )
            history.append(p)
            # Low-bit weights oscillate across rounding boundaries from epoch to epoch; keep
            # the integer model that validated best (it is exported exactly as evaluated).
            if p.val_int is not None and (best is None or p.val_int < best[0]):
                best = (p.val_int, epoch_no, params)
            yield p
    if float_params is None:  # stopped during the float phase: quantize what we have
        float_params = net.params_to_numpy(params)
        params = init_steps(params, train_data[0][:4096], spec)
    best_epoch = epoch_no
    if best is not None:
        _, best_epoch, params = best
    int_model = int_model_from_params(params, spec, stats, consts, names or {}, cfg)
    yield TrainResult(cfg, spec, stats, net.params_to_numpy(params), float_params, int_model,
                      history, stopped, time.perf_counter() - t_start, best_epoch)
