"""Pane 4, Codegen: the generated C or Rust (highlighted; `l` toggles), the variant, and one
key that builds it (arm-none-eabi-gcc; rustc for Rust) and runs the emulated Cortex-M0: size
bars, per-symbol sizes, the integer-only check, bit-exactness, cycles and peak stack. Errors
are shown in the pane."""

from __future__ import annotations

from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Static

from common.errors import QnnError
from qnn.project import VARIANTS


def bar(used: int, total: int, width: int = 30) -> Text:
    frac = min(used / total, 1.0) if total else 0.0
    n = round(frac * width)
    style = "green" if frac < 0.75 else "yellow" if frac <= 1 else "red"
    t = Text("█" * n, style=style)
    t.append("░" * (width - n), style="dim")
    t.append(f" {used:,} / {total // 1024} kB ({100 * used / total:.1f} %)")
    return t


def report_text(summary: dict[str, Any]) -> Text:
    b, v = summary["build"], summary["verify"]
    size = b["size"]
    out = Text()
    if b.get("lang") == "rust":
        out.append(f"Rust: {b.get('compiler')}\n", style="bold")
    out.append("flash ", style="bold")
    out.append_text(bar(size["flash_used"], size["flash_total"]))
    out.append("\nRAM   ", style="bold")
    out.append_text(bar(size["ram_used"], size["ram_total"]))
    inf = size["inference"]
    out.append(f"\ninference: code {inf['code']} B + tables {inf['rodata']} B = "
               f"{size['inference_flash']} B flash, {inf['data'] + inf['bss']} B RAM\n")
    ok_int = b["integer_only"] and not b["problems"]
    out.append("integer-only ARMv6-M (no float, no 64-bit, no helpers): ")
    out.append("yes\n" if ok_int else "NO\n", style="green" if ok_int else "bold red")
    for p in b["problems"]:
        out.append(f"  {p}\n", style="red")
    c = v["cycles"]
    exact = v["mismatched_rows"] == 0
    out.append(f"emulated Cortex-M0: {v['inferences'] - v['mismatched_rows']}/"
               f"{v['inferences']} inferences bit-exact vs the numpy reference ",
               style="bold")
    out.append("OK\n" if exact else "MISMATCH\n", style="green" if exact else "bold red")
    out.append(f"cycles/inference: min {c['min']}, mean {c['mean']:.0f}, max {c['max']} "
               f"({v['cycles_per_mac']:.2f}/MAC); peak stack {v['peak_stack']} B\n\n")
    out.append(f"{'symbol':30s} {'kind':7s} {'bytes':>6s}  origin\n", style="bold")
    syms = sorted(size["symbols"], key=lambda s: (s["origin"] != "model", -s["bytes"]))
    for s in syms:
        if s["bytes"]:
            out.append(f"{s['name'][:30]:30s} {s['kind']:7s} {s['bytes']:6d}  {s['origin']}\n")
    return out


class CodePane(Vertical):
    BINDINGS = [
        Binding("b", "app.build", "build + verify"),
        Binding("v", "variant", "variant"),
        Binding("l", "lang", "C/Rust"),
        Binding("c", "show('code')", "source"),
        Binding("r", "show('report')", "report"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="code-status", classes="pane-status")
        with ContentSwitcher(initial="code", id="code-switch"):
            with VerticalScroll(id="code"):
                yield Static(id="code-text")
            with VerticalScroll(id="report"):
                yield Static(id="code-report")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_code())
        self.refresh_all()

    def action_variant(self) -> None:
        p = self.session.project
        p.variant = VARIANTS[(VARIANTS.index(p.variant) + 1) % len(VARIANTS)]
        self.session.build = None
        self.app.autosave()
        self.refresh_all()

    def action_lang(self) -> None:
        s = self.session
        s.lang = "rust" if s.lang == "c" else "c"
        s.build = None  # the report was of the other language
        self.refresh_all()

    def action_show(self, which: str) -> None:
        self.query_one(ContentSwitcher).current = which
        self.query_one(f"#{which}").focus()

    def refresh_all(self) -> None:
        s = self.session
        lang = "Rust" if s.lang == "rust" else "C"
        status = f"[b]{lang}[/b] (l)  variant [b]{s.project.variant}[/b] (v)   " \
                 "b build + verify   c source / r report"
        self.query_one("#code-status", Static).update(status)
        self.refresh_code()
        self.refresh_report()

    def refresh_code(self) -> None:
        s = self.session
        w = self.query_one("#code-text", Static)
        if s.int_model is None:
            w.update("no trained model yet: train in pane 2 (key 2, then t).")
            return
        if s.stale:
            w.update("the bit widths changed: wait for the re-quantization (pane 3).")
            return
        from codegen.cgen import SOURCE, generate_c
        from codegen.rust import generate_rust

        try:
            if s.lang == "rust":
                text = generate_rust(s.int_model, s.project.variant)
            else:
                text = generate_c(s.int_model, s.project.variant)[SOURCE]
        except QnnError as e:
            w.update(Text(str(e), style="red"))
            return
        w.update(Syntax(text, "rust" if s.lang == "rust" else "c", line_numbers=True,
                        word_wrap=True,
                        theme="ansi_dark" if self.app.current_theme.dark else "ansi_light"))

    def refresh_report(self) -> None:
        s = self.session
        w = self.query_one("#code-report", Static)
        if self.error:
            w.update(Text(self.error, style="bold red"))
        elif s.build is None:
            tools = "rustc and arm-none-eabi-gcc" if s.lang == "rust" else "arm-none-eabi-gcc"
            w.update(f"not built yet: press b to build with {tools} and run the emulated "
                     "Cortex-M0.")
        else:
            w.update(report_text(s.build))

    def show_error(self, text: str) -> None:
        self.error = text
        self.refresh_report()
        self.action_show("report")

    def built(self, summary: dict[str, Any]) -> None:
        self.error = None
        self.session.build = summary
        self.refresh_report()
        self.action_show("report")
