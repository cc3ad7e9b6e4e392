"""The help screen (`?`): the key map of every pane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from qnn.project import VARIANTS

HELP = """\
# qnn-tui keys

| key | anywhere |
|---|---|
| `1` `2` `3` `4` | Simulator, Training, Quantization, Codegen |
| `?` | this help |
| `ctrl+p` | command palette: every action, themes (light/dark) |
| `ctrl+s` | save the project now (it also saves on every change and on quit) |
| `q` | quit |
| `tab` / `shift+tab` | move between boxes of a pane |
| `Enter` | edit the selected setting (Esc cancels) |
| `g` `t` `p` `x` `f` `b` | the panes' actions below work from every pane |

| key | 1 Simulator |
|---|---|
| `+` `-` | nudge the selected setting (dataset size x2 / /2, seed) |
| `left` `right` | nudge the selected pose component (pose table) |
| `r` | random pose |
| `g` | generate the dataset (in the background) |

| key | 2 Training |
|---|---|
| `t` | train from scratch: float, QAT, integer-exact phases |
| `p` / `space` | pause / resume |
| `x` | stop (keeps the model so far) |

| key | 3 Quantization |
|---|---|
| `+` `-` | change the selected layer's bit width (2..8) |
| `w` | switch between weight and activation bits |
| `f` | fine-tune at the new widths (shows the loss change) |
| `d` | show/hide the per-channel detail |

| key | 4 Codegen |
|---|---|
| `v` | variant: {variants} (the default, {default}: small flash; {other}: fewest cycles) |
| `l` | language: C / Rust (no_std module, same C ABI; built with Debian's rustc) |
| `b` | build with arm-none-eabi-gcc, check, run on the emulated Cortex-M0 |
| `c` / `r` | show the C source / the report |

Press `Esc` or `?` to close.
""".format(variants=" / ".join(VARIANTS), default=VARIANTS[0], other=VARIANTS[-1])


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; max-height: 90%; border: round $accent;
                                  background: $surface; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)
