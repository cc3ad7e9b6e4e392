"""The network, three ways: float, fake-quantized (for QAT) and integer-exact (int32 in JAX).

Params are a pytree: a list with one dict per dense layer,
    {"w": [n_out, n_in], "b": [n_out], "sw": [n_out]} (+ "sa": [] for hidden layers)
where sw is the learned per-output-channel weight step and sa the learned activation step.

The first layer sees the input map's integers a0 (see qnn.intmodel) times s0 = 2^-(in_bits-1),
so its float inputs lie in [-1, 1). Targets are standardised, y_norm = (y - mean) / std; the
output layer's integer result is in output LSBs, y = out * lsb, which folds mean/std into its
bias and multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from qnn.dyadic import M_MAX, N_MAX
from qnn.quant import fake_quant_range, int_range, round_ste

INT16 = (-(2**15), 2**15 - 1)


@dataclass(frozen=True)
class NetSpec:
    sizes: tuple[int, ...]  # (n_in, hidden..., n_out)
    w_bits: tuple[int, ...]  # one per layer
    a_bits: tuple[int, ...]  # one per hidden layer
    in_bits: int = 12
    m_bits: int = 8  # requantization multipliers M <= 2^m_bits - 1

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def in_scale(self) -> float:
        return 2.0 ** -(self.in_bits - 1)

    def in_amax(self, k: int, consts=None):
        """Largest |a| of layer k's integer inputs (traced when `consts` carries bounds)."""
        return 2 ** (self.in_bits - 1) if k == 0 else a_max(self, consts, k - 1)

    def out_clamp(self, k: int, consts=None) -> tuple:
        if k == self.n_layers - 1:
            return INT16
        if consts is not None and "a_hi" in consts:  # int32: the clamp of an int32 value
            return 0, consts["a_hi"][k].astype(jnp.int32)
        return int_range(self.a_bits[k], signed=False)


# Bit widths as data: with these keys in `consts`, every clip bound below is read from them
# rather than from the spec, so configurations that differ only in bit widths share one
# compiled computation and train side by side under jax.vmap (qnn.grid). Without them (one
# configuration) the bounds are the spec's Python ints, exactly as before.
BOUND_KEYS = ("w_lo", "w_hi", "a_hi")


def bounds_of(spec: NetSpec) -> dict[str, np.ndarray]:
    """The clip bounds of `spec`'s bit widths, as arrays: per layer w_lo, w_hi (signed
    weights), per hidden layer a_hi (unsigned activations, lo = 0)."""
    w = [int_range(b, signed=True) for b in spec.w_bits]
    return {"w_lo": np.array([lo for lo, _ in w], np.float32),
            "w_hi": np.array([hi for _, hi in w], np.float32),
            "a_hi": np.array([2**b - 1 for b in spec.a_bits], np.float32)}


def w_range(spec: NetSpec, consts, k: int) -> tuple:
    """Layer k's weight integer range: from `consts` bounds when present, else the spec's."""
    if consts is not None and "w_lo" in consts:
        return consts["w_lo"][k], consts["w_hi"][k]
    return int_range(spec.w_bits[k], signed=True)


def a_max(spec: NetSpec, consts, k: int):
    """Hidden layer k's largest activation integer."""
    if consts is not None and "a_hi" in consts:
        return consts["a_hi"][k]
    return 2 ** spec.a_bits[k] - 1


def init_params(rng: np.random.Generator, spec: NetSpec) -> list[dict[str, np.ndarray]]:
    """He-normal weights, zero biases, placeholder steps (set by `init_steps` before QAT).
    Drawn in numpy from the caller's generator: jax.random's draws would each compile."""
    params = []
    for k, (n_in, n_out) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], strict=True)):
        layer = {
            "w": (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(np.float32),
            "b": np.zeros(n_out, np.float32),  # explicit dtypes: no weak types, no retrace
            "sw": np.full(n_out, 0.01, np.float32),
        }
        if k < spec.n_layers - 1:
            layer["sa"] = np.float32(0.1)
        params.append(layer)
    return params


def float_forward(params, a0: jax.Array, spec: NetSpec) -> jax.Array:
    """The plain float network: standardised predictions."""
    x = a0 * spec.in_scale()
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"].T + layer["b"])
    return x @ params[-1]["w"].T + params[-1]["b"]


def fold_standardization(params, mean: np.ndarray, std: np.ndarray):
    """First-layer weights and bias of a network trained on standardised inputs, rewritten
    for the plain inputs: W (x - mean) / std + b = (W / std) x + (b - (W / std) mean)."""
    first = dict(params[0])
    w = np.asarray(first["w"], np.float64) / std[None, :]
    first["b"] = (np.asarray(first["b"], np.float64) - w @ mean).astype(np.float32)
    first["w"] = w.astype(np.float32)
    return [first, *params[1:]]


def _bias_total(layer, k: int, spec: NetSpec, consts) -> jax.Array:
    """The output layer's bias also carries the de-standardising offset mean/std."""
    if k == spec.n_layers - 1:
        return layer["b"] + consts["y_mean"] / consts["y_std"]
    return layer["b"]


def step(value: jax.Array) -> jax.Array:
    """A learned step as used: |s| + 1e-8. An optimizer may push the raw parameter through
    zero; the magnitude is what quantizes, so the sign carries no meaning and the step stays
    positive without a hard clip that would stop its gradient."""
    return jnp.abs(value) + 1e-8


def _out_scale(params, k: int, spec: NetSpec, consts) -> jax.Array:
    """Real value of one LSB of layer k's output, in the units its accumulator is in."""
    if k == spec.n_layers - 1:
        return consts["out_lsb"] / consts["y_std"]
    return step(params[k]["sa"])


def fq_forward(params, a0: jax.Array, spec: NetSpec, consts) -> jax.Array:
    """Fake-quantized forward pass (LSQ): what the integer model computes, with real-valued
    steps in place of the dyadic multipliers. Returns standardised predictions."""
    s_in = spec.in_scale()
    x = a0 * s_in
    for k, layer in enumerate(params):
        sw = step(layer["sw"])
        wq = fake_quant_range(layer["w"], sw[:, None], *w_range(spec, consts, k))
        acc_step = sw * s_in
        bq = round_ste(_bias_total(layer, k, spec, consts) / acc_step) * acc_step
        z = x @ wq.T + bq
        s_out = _out_scale(params, k, spec, consts)
        if k < spec.n_layers - 1:
            x = fake_quant_range(z, s_out, 0, a_max(spec, consts, k))
            s_in = s_out
        else:
            out = jnp.clip(round_ste(z / s_out), *INT16)
            return out * s_out - consts["y_mean"] / consts["y_std"]
    raise AssertionError("unreachable")


def to_int_params(params, spec: NetSpec, consts) -> list[dict[str, jax.Array]]:
    """Integer weights, biases and dyadic (M, n) per channel, as int32 arrays.

    n is the largest shift in [0, 30] with M = round(r 2^n) <= 2^m_bits - 1 and
    r 2^n B <= 2^30,
    where r is the real rescale and B the worst |accumulator| over all inputs; the factor-2
    margin keeps acc * M + rnd(n) inside int32 despite float32 rounding here. qnn.overflow
    re-proves it exactly on the exported integers.
    """
    s_in = spec.in_scale()
    out = []
    for k, layer in enumerate(params):
        lo, hi = w_range(spec, consts, k)
        sw = step(layer["sw"])
        w = jnp.clip(jnp.floor(layer["w"] / sw[:, None] + 0.5), lo, hi)
        acc_step = sw * s_in
        b = jnp.clip(jnp.floor(_bias_total(layer, k, spec, consts) / acc_step + 0.5),
                     -(2.0**30), 2.0**30)
        bound = jnp.abs(b) + jnp.abs(w).sum(axis=1) * spec.in_amax(k, consts)
        s_out = _out_scale(params, k, spec, consts)
        r = acc_step / s_out
        m_max = min(2**spec.m_bits - 1, M_MAX)
        n_prec = jnp.log2(m_max / r)
        n_fit = jnp.log2(2.0**30 / (r * jnp.maximum(bound, 1.0)))
        n = jnp.clip(jnp.floor(jnp.minimum(n_prec, n_fit)), 0, N_MAX)
        m = jnp.clip(jnp.floor(r * 2.0**n + 0.5), 1, m_max)
        out.append({"w": w.astype(jnp.int32), "b": b.astype(jnp.int32),
                    "m": m.astype(jnp.int32), "n": n.astype(jnp.int32)})
        s_in = s_out
    return out


def requantize(acc: jax.Array, m: jax.Array, n: jax.Array, lo: int, hi: int) -> jax.Array:
    """clamp((acc * M + rnd(n)) >> n, lo, hi) in int32, exactly as the C does it."""
    rnd = jnp.left_shift(jnp.int32(1), n) >> 1
    return jnp.clip(jnp.right_shift(acc * m + rnd, n), lo, hi)


def map_inputs_int(x_u16: jax.Array, consts) -> jax.Array:
    """The input map in int32 (see qnn.intmodel.map_inputs)."""
    d = x_u16.astype(jnp.int32) - consts["zp"]
    return requantize(d, consts["im_m"], consts["im_n"], consts["in_lo"], consts["in_hi"])


def int_forward(iparams, x_u16: jax.Array, spec: NetSpec, consts) -> jax.Array:
    """Integer-exact forward: uint16 counts -> int32 outputs in output LSBs."""
    clamps = tuple(spec.out_clamp(k, consts) for k in range(spec.n_layers))
    return _layers_int(iparams, map_inputs_int(x_u16, consts), clamps)


def _layers_int(iparams, a: jax.Array, clamps) -> jax.Array:
    for layer, (lo, hi) in zip(iparams, clamps, strict=True):
        acc = layer["b"] + jnp.matmul(a, layer["w"].T, preferred_element_type=jnp.int32)
        a = requantize(acc, layer["m"], layer["n"], lo, hi)
    return a


def int_to_norm(out: jax.Array, consts) -> jax.Array:
    return (out * consts["out_lsb"] - consts["y_mean"]) / consts["y_std"]


def make_consts(stats) -> dict[str, jax.Array]:
    """Device copies of the data-derived constants (see qnn.train.DataStats)."""
    im = stats.input_map
    f32, i32 = np.float32, np.int32  # numpy, then one device_put: no op-by-op compiles
    return jax.device_put({
        "y_mean": np.asarray(stats.y_mean, f32),
        "y_std": np.asarray(stats.y_std, f32),
        "out_lsb": np.asarray(stats.out_lsb, f32),
        "zp": np.asarray(im.zero_point, i32),
        "im_m": np.asarray(im.multiplier, i32),
        "im_n": np.asarray(im.shift, i32),
        "in_lo": i32(im.lo),
        "in_hi": i32(im.hi),
    })


def params_to_numpy(params) -> list[dict[str, np.ndarray]]:
    return [{k: np.asarray(v) for k, v in layer.items()} for layer in params]


def int_forward_model(model, x_u16: np.ndarray) -> np.ndarray:
    """The training code's integer-exact evaluation applied to an exported IntModel."""
    i32 = np.int32
    iparams = [{"w": L.weights.astype(i32), "b": L.bias.astype(i32),
                "m": L.multiplier.astype(i32), "n": L.shift.astype(i32)} for L in model.layers]
    clamps = tuple((L.lo, L.hi) for L in model.layers)
    im = model.input_map
    return np.asarray(_int_forward_clamps(
        iparams, np.asarray(x_u16, i32), clamps, im.lo, im.hi,
        im.zero_point.astype(i32), im.multiplier.astype(i32), im.shift.astype(i32)))


@partial(jax.jit, static_argnums=(2, 3, 4))
def _int_forward_clamps(iparams, x, clamps, in_lo, in_hi, zp, im_m, im_n):
    return _layers_int(iparams, requantize(x - zp, im_m, im_n, in_lo, in_hi), clamps)
