"""Quantization-aware training as a generator, in three phases:

1. float: the plain network (also the float baseline every quantized figure is compared to),
          trained on standardised inputs, the standardisation then folded into its first layer;
2. qat:   LSQ fake quantization of weights and activations, steps learned, weights held in
          their quantization bins more and more firmly towards the end;
3. int:   steps frozen, the forward value is the integer-exact network (int32, dyadic
          requantization), gradients flow through the fake-quantized one (straight-through).
          The model exported is the model that was evaluated.

Every phase is Adam over shuffled mini-batches with a one-cycle learning rate (see
qnn.schedule), one jitted lax.scan per epoch. `train(...)` yields a `Progress` after every
epoch and finally a `TrainResult`; it checks `stop()` between epochs, so a CLI, a test or the
workbench's worker can drive and cancel it.
"""

from __future__ import annotations

import functools
import os
import threading
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
from qnn.schedule import one_cycle, ramp, shuffled_batches
from qnn.stats import DataStats, compute_stats, input_moments, standardized
from qnn.steps import init_steps

PHASES = ("float", "qat", "int")
# Peak learning rate of each phase, relative to the configured (float) one: the quantized
# phases start from a trained network and only have to adapt it to the grid.
LR_SCALE = {"float": 1.0, "qat": 0.03, "int": 0.001}
# Peak weight of the oscillation penalty, relative to the float network's training loss (so
# it means the same on any data, whatever the loss level).
DAMPEN = {"float": 0.0, "qat": 30.0, "int": 30.0}
# Weight decay per epoch, relative to the learning rate (decoupled, as in AdamW, spread over
# the epoch's steps): against the few optimizer steps of an epoch on small data it is a
# strong pull towards small weights, against the hundreds of one on 20k samples a light one;
# it also leaves the weights easier to quantize.
WEIGHT_DECAY = 10.0

# Compiles dominate short runs; keep them across processes (CLI, tests, the workbench).
jax.config.update("jax_compilation_cache_dir", os.environ.get(
    "QNN_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qnn-tui", "jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@dataclass
class Progress:
    phase: str
    epoch: int  # 1-based, over all phases
    epochs: int
    train_loss: float  # standardised MSE (each output scaled by its std), not output units
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


def loss_fn(quantized: bool, spec: net.NetSpec, consts):
    """The training loss: MSE of standardised predictions, of the float network or of the
    quantized one. With `exact` = 1 (the int phase) the quantized forward value is the
    integer-exact network's, so the loss is the exported model's, while gradients flow
    through the fake-quantized one (straight-through); with 0 (qat) it is the fake-quantized
    network's. A traced number rather than a Python flag: both phases share one compile."""
    def loss(params, exact, a0, x_u16, yn):
        if not quantized:
            return jnp.mean((net.float_forward(params, a0, spec) - yn) ** 2)
        def with_exact(pred):
            ip = jax.lax.stop_gradient(net.to_int_params(params, spec, consts))
            exact_pred = net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts)
            return pred + jax.lax.stop_gradient(exact_pred - pred)

        pred = net.fq_forward(params, a0, spec, consts)
        # A cond, not a product with `exact`: the qat phase skips the integer network's cost
        # (most of a quantized step's); `exact` is shared by vmapped configurations
        # (qnn.grid), so it stays a cond there too.
        pred = jax.lax.cond(exact > 0, with_exact, lambda p: p, pred)
        return jnp.mean((pred - yn) ** 2)

    return loss


def oscillation_penalty(params, spec: net.NetSpec, consts=None) -> jax.Array:
    """Mean squared distance of each weight from the centre of its quantization bin, in steps
    (Nagel et al., 2022, "Overcoming oscillations in quantization-aware training"). With the
    straight-through estimator, low-bit weights settle on bin boundaries and flip between two
    integers from step to step; weighted up over the quantized phases, this term pulls them
    into their bins, so the integer network stops changing under the optimizer's noise."""
    total = 0.0
    for k, layer in enumerate(params):
        lo, hi = net.w_range(spec, consts, k)
        s = jax.lax.stop_gradient(net.step(layer["sw"]))[:, None]
        v = jnp.clip(layer["w"] / s, lo, hi)
        total = total + jnp.mean((v - jax.lax.stop_gradient(jnp.floor(v + 0.5))) ** 2)
    return total


ADAM = optax.scale_by_adam()  # the learning rate is applied per step, from the schedule


def relative_step_updates(updates, params, learn_steps, spec: net.NetSpec, consts=None):
    """Adam's update of each quantizer step scaled by the step itself (times `learn_steps`,
    0 or 1). Adam moves every parameter by about the learning rate whatever its gradient's
    size, so LSQ's gradient scaling is lost on it, and a 0.01 activation step would change by
    half of itself per update; scaled, steps move in proportion (as if learned in log
    space). A weight step also moves 1/sqrt(Qp) as fast (Qp: the layer's largest weight
    integer), the bit-width part of LSQ's gradient scale: at full speed, 8-bit weight steps
    drifted with the oscillation penalty until whole channels clipped, and the default 8-bit
    run's validation loss rose tenfold within the QAT phase (2-bit steps, Qp = 1, keep
    their speed)."""
    def rate(k: int):
        return learn_steps / jnp.sqrt(jnp.asarray(net.w_range(spec, consts, k)[1], jnp.float32))

    return [{key: (u * jnp.abs(layer[key]) * (rate(k) if key == "sw" else learn_steps)
                   if key in ("sw", "sa") else u)
             for key, u in upd.items()}
            for k, (upd, layer) in enumerate(zip(updates, params, strict=True))]


@functools.lru_cache(maxsize=64)
def epoch_fn(quantized: bool, spec: net.NetSpec):
    """`epoch_body` jitted, once per network (qnn.grid vmaps the body over configurations)."""
    return jax.jit(epoch_body(quantized, spec))


def epoch_body(quantized: bool, spec: net.NetSpec):
    """One jitted epoch: a lax.scan of Adam steps over the given batches (row indices) with
    their learning rates and oscillation-penalty weights, then the validation losses (one
    call, one compile). Everything data-, phase- or schedule-dependent is an argument,
    nothing is baked in, so two compiles (float and quantized) serve every run of this
    network, and the persistent compile cache hits across processes. `learn_steps` = 0
    freezes the quantizer steps (the int phase: the dyadic multipliers depend on them);
    `decay` is the weight decay per step, relative to the learning rate."""

    def epoch(params, adam_state, lrs, dampen, batches, exact, learn_steps, decay, consts, data,
              val):
        loss = loss_fn(quantized, spec, consts)
        a0, x_u16, yn = data

        def objective(params, lam, rows):
            task = loss(params, exact, a0[rows], x_u16[rows], yn[rows])
            if not quantized:
                return task, task
            return task + lam * oscillation_penalty(params, spec, consts), task

        def step(carry, schedule):
            params, adam_state = carry
            lr, lam, rows = schedule
            grads, task = jax.grad(objective, has_aux=True)(params, lam, rows)
            updates, adam_state = ADAM.update(grads, adam_state)
            updates = relative_step_updates(updates, params, learn_steps, spec, consts)
            params = [{k: p - lr * (updates[i][k] + (decay * p if k == "w" else 0))
                       for k, p in layer.items()} for i, layer in enumerate(params)]
            return (params, adam_state), task

        (params, adam_state), losses = jax.lax.scan(step, (params, adam_state),
                                                    (lrs, dampen, batches))
        return params, adam_state, jnp.mean(losses), validate(params, quantized, spec, consts, val)

    return epoch


def validate(params, quantized: bool, spec: net.NetSpec, consts, val):
    """Validation MSE (standardised) of the float, fake-quantized and integer-exact networks
    (the last two NaN for a float network: its quantizer steps are not set yet)."""
    a0, x_u16, yn = val
    v_float = jnp.mean((net.float_forward(params, a0, spec) - yn) ** 2)
    if not quantized:
        return v_float, jnp.float32(jnp.nan), jnp.float32(jnp.nan)
    ip = net.to_int_params(params, spec, consts)
    exact = net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts)
    return (v_float, jnp.mean((net.fq_forward(params, a0, spec, consts) - yn) ** 2),
            jnp.mean((exact - yn) ** 2))


adam_init = jax.jit(ADAM.init)  # jitted: op by op, its zeros would each compile


def precompile_quantized(spec: net.NetSpec, params, n_batches: int, batch: int, consts,
                         data, val) -> threading.Thread:
    """Compile the quantized phases' epoch in a background thread while the float phase
    runs. On a cold compile cache this hides most of its seconds-long XLA compile behind the
    float epochs (XLA compiles without the GIL); the quantized phase then finds it in the
    persistent compile cache. The params only give shapes (the float network's placeholder
    steps have the quantized phase's)."""
    def abstract(tree):
        return jax.tree.map(lambda v: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype),
                            tree)

    f32 = jax.ShapeDtypeStruct((), np.float32)
    args = (abstract(params), jax.eval_shape(ADAM.init, params),
            jax.ShapeDtypeStruct((n_batches,), np.float32),
            jax.ShapeDtypeStruct((n_batches,), np.float32),
            jax.ShapeDtypeStruct((n_batches, batch), np.int32), f32, f32, f32,
            abstract(consts), abstract(data), abstract(val))
    thread = threading.Thread(target=lambda: epoch_fn(True, spec).lower(*args).compile(),
                              daemon=True)
    thread.start()
    return thread


def loss_level_of(history: list[Progress]) -> float:
    """The float network's training loss (its last float epoch, else the last epoch): the
    unit of the oscillation penalty, so its weight means the same whatever the data."""
    floats = [p for p in history if p.phase == "float"] or history
    return floats[-1].train_loss if floats else 1.0


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

    def host_data(x, y):
        a0 = map_inputs(stats.input_map, x).astype(np.float32)  # the reference's own map
        yn = ((y - stats.y_mean) / stats.y_std).astype(np.float32)
        return a0, x.astype(np.int32), yn

    train_np, val_np = host_data(x_train, y_train), host_data(x_val, y_val)
    train_data, val_data = jax.device_put(train_np), jax.device_put(val_np)
    a0_sample = train_np[0][:4096]  # for the quantizer steps' initial values
    x_mean, x_std = input_moments(train_np[0], spec.in_scale())

    def end_float_phase(params):
        """Fold the input standardisation into the first layer: the float baseline; then
        the quantizer steps from its weights and activations."""
        params = net.fold_standardization(params, x_mean, x_std)
        return net.params_to_numpy(params), init_steps(params, a0_sample, spec)

    rng = np.random.default_rng(cfg.seed)  # initial weights, then every epoch's shuffle
    if init is None:
        params = net.init_params(rng, spec)
        float_params = None
        plan = [("float", cfg.epochs_float), ("qat", cfg.epochs_qat), ("int", cfg.epochs_int)]
    else:
        params = [{k: np.asarray(v) for k, v in layer.items()} for layer in init.params]
        params = init_steps(params, a0_sample, spec, only_changed=init.spec)
        float_params = init.float_params
        plan = [("qat", cfg.epochs_finetune), ("int", cfg.epochs_int)]
    total = sum(e for _, e in plan)
    n_train = train_data[0].shape[0]
    batch = min(cfg.batch_size, n_train)
    n_batches = n_train // batch
    history: list[Progress] = []
    epoch_no, stopped = 0, False
    loss_level = loss_level_of(init.history if init else [])  # the penalty's unit
    best: tuple[float, int, object] | None = None  # (val_int, epoch, params)
    warmup = None
    if plan[0][0] == "float" and plan[0][1] > 0 and cfg.epochs_qat + cfg.epochs_int > 0:
        warmup = precompile_quantized(spec, params, n_batches, batch, consts, train_data,
                                      val_data)
    for phase, n_epochs in plan:
        if n_epochs == 0 or stopped:
            continue
        if phase != "float" and float_params is None:
            float_params, params = end_float_phase(params)
        data_t, data_v = train_data, val_data
        if phase == "float":
            data_t = jax.device_put(standardized(train_np, spec.in_scale(), x_mean, x_std))
            data_v = jax.device_put(standardized(val_np, spec.in_scale(), x_mean, x_std))
        n_steps = n_epochs * n_batches
        lrs = one_cycle(cfg.lr * LR_SCALE[phase], n_steps).reshape(n_epochs, -1)
        dampen = ramp(DAMPEN[phase] * loss_level, n_steps).reshape(n_epochs, -1)
        if phase != "float" and warmup is not None:
            warmup.join()  # its compile is in the persistent cache now
        run_epoch, adam_state = epoch_fn(phase != "float", spec), adam_init(params)
        exact, learn_steps = np.float32(phase == "int"), np.float32(phase != "int")
        for e in range(n_epochs):
            if stop():
                stopped = True
                break
            t0 = time.perf_counter()
            batches = shuffled_batches(rng, n_train, batch)
            params, adam_state, loss, vals = run_epoch(
                params, adam_state, lrs[e], dampen[e], batches, exact, learn_steps,
                np.float32(WEIGHT_DECAY / n_batches), consts, data_t, data_v)
            loss = float(loss)
            v_float, v_fq, v_int = (float(v) for v in vals)
            dt = time.perf_counter() - t0
            epoch_no += 1
            if phase == "float":
                v_fq = v_int = None
                loss_level = loss
            p = Progress(phase, epoch_no, total, loss, v_float, v_fq, v_int, n_train / dt,
                         time.perf_counter() - t_start)
            history.append(p)
            # Low-bit weights oscillate across rounding boundaries from epoch to epoch; keep
            # the integer model that validated best (it is exported exactly as evaluated).
            if p.val_int is not None and (best is None or p.val_int < best[0]):
                best = (p.val_int, epoch_no, params)
            yield p
    if float_params is None:  # stopped during the float phase: quantize what we have
        float_params, params = end_float_phase(params)
    best_epoch = epoch_no
    if best is not None:
        _, best_epoch, params = best
    int_model = int_model_from_params(params, spec, stats, consts, names or {}, cfg)
    yield TrainResult(cfg, spec, stats, net.params_to_numpy(params), float_params, int_model,
                      history, stopped, time.perf_counter() - t_start, best_epoch)
