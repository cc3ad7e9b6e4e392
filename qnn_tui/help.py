"""The help screen (`?`): how to close it first, then the key map of every pane and what the
figures on screen are."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from qnn.project import VARIANTS

HELP = """\
**Esc, ? or q closes this help**; up/down/PgDn scroll it.

| key | anywhere |
|---|---|
| `1`..`6` | Simulator, Training, Quantization, Codegen, Explore, Runs |
| `g` `t` `p` `x` `f` `b` | generate, train, pause, stop, fine-tune, build |
| `ctrl+p` | command palette: every action, themes, screenshot |
| `ctrl+s` | save (it also saves on every change and on quit) |
| `tab` `Enter` | next box; edit the selected setting (Esc cancels) |
| `q` | quit |

| key | 1 Simulator |
|---|---|
| `+` `-` | nudge the selected setting (dataset size x2 / /2, seed) |
| `Enter` on *forward model* | pick the model (magnet6, arm2...) from a list |
| `left` `right` | nudge the selected pose component (pose table) |
| `r` / `g` / `i` | random pose / simulate the dataset / import recorded data |

| key | 2 Training |
|---|---|
| `t` | train from scratch: float, QAT, integer-exact phases |
| `p` / `space`, `x` | pause / resume, stop (keeps the model so far) |
| `e` | loss curves / histogram of the selected output's errors |

| key | 3 Quantization |
|---|---|
| `+` `-` / `w` | the selected layer's bit width (2..8) / weights or activations |
| `f` / `d` | fine-tune at the new widths / per-channel detail |

| key | 4 Codegen |
|---|---|
| `v` | variant: {variants} ({default}: small flash; {other}: fewest cycles) |
| `k` | the M0 clock (MHz) for µs per inference |
| `l` | language: C / Rust (no_std module, same C ABI; built with Debian's rustc) |
| `b` | build with arm-none-eabi-gcc, check, run on the emulated M0 |
| `c` `h` `r` | source / C header with a usage example / report |
| `e` | export qnn_model.c/.h (or qnn_model.rs) to a folder of your choice |

| key | 5 Explore |
|---|---|
| `s` / `x` | sweep the settings (train side by side, measure on the emulated M0) / cancel |
| `Enter` on a setting | sizes (`8,8; 16,16`), weight / activation bits, search, budget |
| `Enter` or `u` on the front | make that point the model (its trained run, no retraining) |
| `a` / `k` | plot against flash or µs / the M0 clock (MHz) |
| budget | `1000 B`, `2400 cycles` or `50 us` (at the clock): a line on the plot, `*` the best |

**The figures.** *val MSE*: mean squared error of the standardised outputs (each output
counts alike) on the validation rows (10 % held out); *best integer model*: the epoch whose
int32 network validated best, the one exported (`qnn eval RUN --data DATA --split val`
gives the same figures). *float baseline*: the float network before
QAT. *RMSE, p99, max |e|*: of that integer model, in each output's unit. *Identifiability*:
the smallest singular value of d(readings)/d(pose): moving the pose by one half-range (e.g.
10 mm) in its weakest direction moves the readings by at least that many ADC counts.
*int32 room* (pane 3): bits left between the worst-case accumulator (and accumulator times
M) and the int32 limit, proven for every input. *RAM* (pane 4) includes the firmware's stack
reserve (the report says how much). *µs* = cycles / clock. *Explore* (pane 5): MSE in output
units on rows held out from training; the *Pareto front*: no other point is both more
accurate and cheaper (flash, cycles).
""".format(variants=" / ".join(VARIANTS), default=VARIANTS[0], other=VARIANTS[-1])


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 78; max-height: 95%; border: round $accent;
                                  background: $surface; }
    """

    def compose(self) -> ComposeResult:
        box = VerticalScroll()
        box.border_title = "help: Esc closes"
        with box:
            yield Markdown(HELP)
