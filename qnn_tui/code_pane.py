"""Pane 4, Codegen: the generated C or Rust (highlighted; `l` toggles), the C header with a
usage example, and one key that builds it (arm-none-eabi-gcc; rustc for Rust) and runs the
emulated Cortex-M0: size bars, per-symbol sizes, the integer-only check, bit-exactness, cycles
and microseconds at the project's clock (with the 1-cycle and the 32-cycle multiplier) and
peak stack. `e` exports the source to a folder. Errors are shown in the pane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Static

from common.errors import QnnError
from qnn.project import CLOCK_RANGE, VARIANTS
from qnn_tui.fields import EditScreen
from qnn_tui.figures import microseconds

VIEWS = ("code", "header", "report")


def bar(used: int, total: int, width: int = 30) -> Text:
    frac = min(used / total, 1.0) if total else 0.0
    n = round(frac * width)
    style = "green" if frac < 0.75 else "yellow" if frac <= 1 else "red"
    t = Text("█" * n, style=style)
    t.append("░" * (width - n), style="dim")
    t.append(f" {used:,} / {total // 1024} kB ({100 * used / total:.1f} %)")
    return t


def report_text(summary: dict[str, Any], clock_mhz: float) -> Text:
    b, v = summary["build"], summary["verify"]
    size = b["size"]
    out = Text()
    if b.get("lang") == "rust":
        out.append(f"Rust: {b.get('compiler')}\n", style="bold")
    out.append("flash ", style="bold")
    out.append_text(bar(size["flash_used"], size["flash_total"]))
    out.append("\nRAM   ", style="bold")
    out.append_text(bar(size["ram_used"], size["ram_total"]))
    if "stack_reserved" in size:
        out.append(f"\n      (static {size.get('ram_static', 0):,} B + the firmware's stack "
                   f"reserve {size['stack_reserved']:,} B)", style="dim")
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
    out.append(f"cycles/inference: min {c['min']:,}, mean {c['mean']:,.0f}, max {c['max']:,} "
               f"({v['cycles_per_mac']:.2f}/MAC); stack {v['peak_stack']} B\n")
    out.append(f"at {clock_mhz:g} MHz (k sets the clock): {microseconds(c['mean'], clock_mhz)} "
               f"per inference (worst {microseconds(c['max'], clock_mhz)})", style="bold")
    slow = v.get("cycles_slow_multiply")
    if isinstance(slow, dict) and "mean" in slow:
        out.append(f"\nwith the 32-cycle multiplier (M0 option): {slow['mean']:,.0f} cycles = "
                   f"{microseconds(slow['mean'], clock_mhz)}")
    out.append("\n\n")
    out.append(f"{'symbol':30s} {'kind':7s} {'bytes':>6s}  origin\n", style="bold")
    syms = sorted(size.get("symbols", []), key=lambda s: (s["origin"] != "model", -s["bytes"]))
    for s in syms:
        if s["bytes"]:
            out.append(f"{s['name'][:30]:30s} {s['kind']:7s} {s['bytes']:6d}  {s['origin']}\n")
    return out


def usage_example(model: Any, prefix: str = "qnn", cycles: float | None = None,
                  clock_mhz: float = 48.0) -> str:
    """Ten lines of C calling the generated network, with the inputs' order and each
    output's unit and LSB (from the model)."""
    P = prefix.upper()
    ins = ", ".join(model.input_names)
    timing = (f" /* {cycles:,.0f} cycles, {microseconds(cycles, clock_mhz)} at "
              f"{clock_mhz:g} MHz */" if cycles else "")
    outs = [f"{name} = out[{i}] * {lsb:g} {unit}" for i, (name, unit, lsb) in
            enumerate(zip(model.output_names, model.output_units, model.output_lsb,
                          strict=True))]
    lines = [f'#include "{prefix}_model.h"', "",
             f"/* in[]: raw uint16 ADC counts, in this order: {ins} */",
             "void on_sample(void) {",
             f"    uint16_t in[{P}_N_IN];",
             f"    int16_t out[{P}_N_OUT];",
             "    read_adc(in);  /* your driver */",
             f"    {prefix}_predict(in, out);{timing}",
             "    /* " + ";\n     * ".join(outs) + " */",
             "}"]
    return "\n".join(lines)


class CodePane(Vertical, can_focus=True):
    BINDINGS = [
        Binding("b", "app.build", "build + verify"),
        Binding("v", "variant", "variant"),
        Binding("l", "lang", "C/Rust"),
        Binding("c", "show('code')", "source"),
        Binding("h", "show('header')", "header"),
        Binding("r", "show('report')", "report"),
        Binding("e", "export", "export C"),
        Binding("k", "clock", "clock"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="code-status", classes="pane-status")
        with ContentSwitcher(initial="code", id="code-switch"):
            for view in VIEWS:
                with VerticalScroll(id=view):
                    yield Static(id="code-text" if view == "code" else f"code-{view}")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_code())
        self.refresh_all()

    def action_variant(self) -> None:
        s = self.session
        s.project.variant = VARIANTS[(VARIANTS.index(s.variant) + 1) % len(VARIANTS)]
        self.app.autosave()
        self.app.refresh_panes()

    def action_lang(self) -> None:
        s = self.session
        s.lang = "rust" if s.lang == "c" else "c"
        s.build = None  # the report was of the other language
        self.refresh_all()

    def action_show(self, which: str) -> None:
        self.query_one(ContentSwitcher).current = which
        self.query_one(f"#{which}").focus()

    def action_clock(self) -> None:
        p = self.session.project

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                mhz = float(text.lower().replace("mhz", "").strip())
                if not CLOCK_RANGE[0] <= mhz <= CLOCK_RANGE[1]:
                    raise ValueError(f"outside {CLOCK_RANGE[0]:g}..{CLOCK_RANGE[1]:g} MHz")
            except ValueError as e:
                self.app.notify(f"clock: {e}", severity="error", title="not changed")
                return
            p.clock_mhz = mhz
            self.app.autosave()
            self.app.refresh_panes()  # the runs pane shows µs too

        self.app.push_screen(EditScreen("M0 clock in MHz (for µs per inference)",
                                        f"{p.clock_mhz:g}"), done)

    def action_export(self) -> None:
        s = self.session
        if s.int_model is None or s.stale:
            self.app.notify("nothing to export yet: train (pane 2), and wait for a "
                            "re-quantization to finish.", severity="warning")
            return
        default = s.project.export_dir or str(s.paths["c"])

        def done(text: str | None) -> None:
            if text:
                self.export_to(text.strip())

        what = "qnn_model.rs" if s.lang == "rust" else "qnn_model.c/.h"
        self.app.push_screen(EditScreen(f"export {s.variant} {what} to folder", default), done)

    def export_to(self, folder: str) -> None:
        from codegen.cgen import write_c
        from codegen.rust import write_rust

        s = self.session
        target = Path(folder).expanduser()
        if not target.is_absolute():
            target = s.dir / target
        try:
            if target.exists() and not target.is_dir():
                raise QnnError(f"{target}: not a folder; give a folder for the C files.")
            write = write_rust if s.lang == "rust" else write_c
            written = write(s.int_model, target, s.variant)
        except (QnnError, OSError) as e:
            self.app.notify(str(e), severity="error", title="export failed", timeout=12)
            return
        s.project.export_dir = str(target)
        self.app.autosave()
        self.app.notify(f"wrote {', '.join(p.name for p in written)} ({s.variant}) to "
                        f"{target}", title="exported", timeout=8)

    def refresh_all(self) -> None:
        s = self.session
        lang = "Rust" if s.lang == "rust" else "C"
        status = (f"[b]{lang}[/b] (l)  variant [b]{s.variant}[/b] (v)  clock "
                  f"{s.project.clock_mhz:g} MHz (k)  b build+verify  e export\n"
                  "views: c source, h header + usage, r report")
        self.query_one("#code-status", Static).update(status)
        self.refresh_code()
        self.refresh_report()

    def _files(self) -> dict[str, str] | str:
        s = self.session
        if s.int_model is None:
            return "no trained model yet: train in pane 2 (key 2, then t)."
        if s.stale:
            return "the bit widths changed: wait for the re-quantization (pane 3)."
        from codegen.cgen import generate_c
        from codegen.rust import SOURCE_RS, generate_rust

        try:
            files = generate_c(s.int_model, s.variant)
            if s.lang == "rust":
                files[SOURCE_RS] = generate_rust(s.int_model, s.variant)
            return files
        except QnnError as e:
            return str(e)

    def refresh_code(self) -> None:
        from codegen.cgen import HEADER, SOURCE
        from codegen.rust import SOURCE_RS

        files = self._files()
        code = self.query_one("#code-text", Static)
        header = self.query_one("#code-header", Static)
        if isinstance(files, str):
            code.update(Text(files, style="red" if "overflow" in files else ""))
            header.update(files)
            return
        theme = "ansi_dark" if self.app.current_theme.dark else "ansi_light"
        rust = self.session.lang == "rust"
        code.update(Syntax(files[SOURCE_RS if rust else SOURCE], "rust" if rust else "c",
                           line_numbers=True, word_wrap=True, theme=theme))
        s = self.session
        b = s.build if s.build and s.build["build"].get("variant") == s.variant else None
        cycles = b["verify"]["cycles"]["mean"] if b else None
        example = usage_example(s.int_model, cycles=cycles, clock_mhz=s.project.clock_mhz)
        note = ("/* The Rust module exports the same C ABI: C firmware calls it through\n"
                " * this header and links qnn_model.rs's object. */\n" if rust else "")
        header.update(Syntax(f"{note}/* ---- usage ---- */\n{example}\n\n/* ---- {HEADER} ---- "
                             f"*/\n{files[HEADER]}", "c", word_wrap=True, theme=theme))

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
            built = s.build["build"].get("variant", "?") if isinstance(s.build.get("build"),
                                                                        dict) else "?"
            head = Text(f"build of the {built} variant", style="bold")
            if built != s.variant:
                head.append(f" (the variant now is {s.variant}: b builds it)", style="yellow")
            head.append("\n")
            try:
                w.update(head + report_text(s.build, s.project.clock_mhz))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                w.update(Text(f"build/summary.json is malformed ({type(e).__name__}: {e}); "
                              "press b to build again.", style="bold red"))

    def show_error(self, text: str) -> None:
        self.error = text
        self.refresh_report()
        self.action_show("report")

    def built(self, summary: dict[str, Any]) -> None:
        self.error = None
        self.session.build = summary
        self.refresh_all()
        self.action_show("report")
