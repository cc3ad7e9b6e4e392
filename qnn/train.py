"""Quantization-aware training as a generator, in three phases:

1. float: the plain network (also the float baseline every quantized figure is compared to),
          trained on standardised inputs, the standardisation then folded into its first layer;
2. qat:   LSQ fake quantization of weights and activations, steps learned, weights held in
          their quantization bins more and more firmly towards the end;
3. int:   steps frozen, the forward value is the integer-exact network (int32, dyadic
          requantization), gradients flow through the fake-quantized one (straight-through).
          The model exported is the model that was evaluated.

Every phase is Adam over shuffled mini-batches with a one-cycle learning rate (see
qnn.schedule), one jitted lax.scan per epoch (qnn.epoch: the loss, the penalty, the step
update). `train(...)` yields a `Progress` after every epoch and finally a `TrainResult`; it
checks `stop()` between epochs, so a CLI, a test or the workbench's worker can drive and
cancel it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import jax
import numpy as np

from qnn import network as net
from qnn.config import TrainConfig
from qnn.epoch import adam_init, epoch_fn, precompile_quantized
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


@dataclass
class PhaseSchedule:
    """What a phase's epochs are given besides the data: per-epoch rows of per-step learning
    rates and oscillation-penalty weights, and the flags and weight decay of the phase."""
    lrs: np.ndarray  # [epochs, steps per epoch]
    dampen: np.ndarray  # [epochs, steps per epoch]
    exact: np.float32  # 1: the forward value is the integer-exact network's (int phase)
    learn_steps: np.float32  # 0: quantizer steps frozen (int phase: M and n depend on them)
    decay: np.float32  # weight decay per step, relative to the learning rate


def phase_schedule(cfg: TrainConfig, phase: str, n_epochs: int, n_batches: int,
                   loss_level: float) -> PhaseSchedule:
    """The schedule of one phase, the same for `qnn train` and for a grid (qnn.grid)."""
    n_steps = n_epochs * n_batches
    return PhaseSchedule(
        one_cycle(cfg.lr * LR_SCALE[phase], n_steps).reshape(n_epochs, -1),
        ramp(DAMPEN[phase] * loss_level, n_steps).reshape(n_epochs, -1),
        np.float32(phase == "int"), np.float32(phase != "int"),
        np.float32(WEIGHT_DECAY / n_batches))


def host_data(stats: DataStats, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mapped inputs as float, raw uint16 readings as int32, standardised targets): the
    quantized networks see the reference's own input map; the integer one the raw readings."""
    a0 = map_inputs(stats.input_map, x).astype(np.float32)
    yn = ((y - stats.y_mean) / stats.y_std).astype(np.float32)
    return a0, x.astype(np.int32), yn


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

    train_np, val_np = host_data(stats, x_train, y_train), host_data(stats, x_val, y_val)
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
        sched = phase_schedule(cfg, phase, n_epochs, n_batches, loss_level)
        if phase != "float" and warmup is not None:
            warmup.join()  # its compile is in the persistent cache now
        run_epoch, adam_state = epoch_fn(phase != "float", spec), adam_init(params)
        for e in range(n_epochs):
            if stop():
                stopped = True
                break
            t0 = time.perf_counter()
            batches = shuffled_batches(rng, n_train, batch)
            params, adam_state, loss, vals = run_epoch(
                params, adam_state, sched.lrs[e], sched.dampen[e], batches, sched.exact,
                sched.learn_steps, sched.decay, consts, data_t, data_v)
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
