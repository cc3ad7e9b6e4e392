"""C generation: an `IntModel` -> `qnn_model.h` / `qnn_model.c`, plain C99 for the Cortex-M0.

Two variants compute exactly `qnn.intmodel.predict_int`:

- "compact": one loop over a small stage table (input map, then each layer) runs every
  stage; weights are one stream of offset-binary bytes (w + 128; two per byte when packing
  4-bit layers pays) read in blocks of 8 outputs whose accumulators stay in registers, and
  each channel's bias and multiplier share one int32 word (one shift per stage). Smallest
  flash: 990 B for 6-16-16-6 at 8 bits.
- "fast": every weight is an immediate in the code (zero weights skipped, +-1 as add/sub,
  powers of two as shifts), outputs computed in blocks so each activation is loaded once per
  block. Fewest cycles.

Both use the same exact rewriting of the specification (see `_REQUANT_DOC`): all sums are done
modulo 2^32 in `uint32_t` and only the final pre-shift value is read as `int32_t`. Because the
overflow proof (`qnn.overflow`) shows that this true value fits int32, the modular result *is*
the true value, whatever the intermediate terms were; so constants can be folded freely.
"""

from __future__ import annotations

from pathlib import Path

from codegen.cgen_common import _banner, _c_array  # noqa: F401  (_c_array: codegen/baseline.py)
from codegen.cgen_compact import COMPACT_BLOCK, _compact_source  # noqa: F401
from codegen.cgen_fast import FAST_BLOCK, _fast_source  # noqa: F401
from common.errors import QnnError
from common.fileio import atomic_write_text
from qnn.intmodel import IntModel
from qnn.overflow import check_export

VARIANTS = ("compact", "fast")
HEADER, SOURCE = "qnn_model.h", "qnn_model.c"


def _header(model: IntModel, variant: str, prefix: str) -> str:
    P = prefix.upper()
    guard = f"{P}_MODEL_H"
    im = model.input_map
    lines = [_banner(model, variant, f"{prefix}_model.h: the interface of the generated network.")]
    lines.append(f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n")
    lines.append(f"#define {P}_N_IN {model.n_in}")
    for k, s in enumerate(model.sizes[1:-1]):
        lines.append(f"#define {P}_N_HIDDEN{k + 1} {s}")
    lines.append(f"#define {P}_N_OUT {model.n_out}")
    lines.append(f"#define {P}_N_MACS {model.n_macs}\n")
    lines.append("/* Inputs: uint16 ADC counts. Each is mapped to a signed "
                 f"{im.bits}-bit activation,")
    lines.append(f" * a0 = clamp(((x - zp) * m + rnd(s)) >> s, {im.lo}, {im.hi}):")
    for j, name in enumerate(model.input_names):
        step = float(im.step[j]) if j < len(im.step) else 0.0
        info = f", {step:.4g} counts per LSB" if step else ""
        lines.append(f" *   in[{j}]: {name}: zp {int(im.zero_point[j])}, m "
                     f"{int(im.multiplier[j])}, s {int(im.shift[j])}{info}")
    lines.append(" *\n * Outputs: int16 fixed point, value = out[i] * LSB:")
    for i, (name, unit, lsb) in enumerate(zip(model.output_names, model.output_units,
                                              model.output_lsb, strict=True)):
        lines.append(f" *   out[{i}]: {name}, 1 LSB = {lsb:.6g} {unit}")
    lines.append(" */")
    lines.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT]);\n")
    lines.append(f"#endif /* {guard} */\n")
    return "\n".join(lines)


# --- public API --------------------------------------------------------------------------


def generate_c(model: IntModel, variant: str = "compact", prefix: str = "qnn") -> dict[str, str]:
    """The C pair for `model`: {"qnn_model.h": text, "qnn_model.c": text} (names follow
    `prefix`). Refuses (QnnError) a model whose int32 arithmetic could overflow."""
    if variant not in VARIANTS:
        raise QnnError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    if not prefix.isidentifier():
        raise QnnError(f"prefix {prefix!r} is not a C identifier; use letters, digits and _.")
    check_export(model)
    source = _compact_source(model, prefix) if variant == "compact" else _fast_source(model,
                                                                                      prefix)
    return {f"{prefix}_model.h": _header(model, variant, prefix), f"{prefix}_model.c": source}


def write_c(model: IntModel, out_dir: str | Path, variant: str = "compact",
            prefix: str = "qnn") -> list[Path]:
    """Generate and write the C pair into `out_dir` (atomic writes); returns the paths."""
    files = generate_c(model, variant, prefix)
    out_dir = Path(out_dir)
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
