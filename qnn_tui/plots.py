"""plotext figures rendered to rich Text (plotext keeps global state: call from the UI thread)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text


def line_plot(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], width: int,
              height: int, title: str = "", xlabel: str = "", ylabel: str = "",
              theme: str = "simple") -> Text:
    """One line per (label, xs, ys); empty series are skipped."""
    import plotext as plt

    f = plt.figure
    f.clear()
    f.plot_size(max(width, 20), max(height, 6))
    f.theme(theme)
    drawn = False
    for label, xs, ys in series:
        if len(xs) == 0:
            continue
        s = f.signal(list(map(float, xs)), list(map(float, ys)), marker="braille")
        s.lines().label(label)
        f.draw(s)
        drawn = True
    w_eff = f.size()[0]  # plotext caps the width at the terminal's
    f.legend(x=max(w_eff - 9, 10), y=0, ha="right", va="top")  # canvas cells: top right
    if not drawn:
        return Text(f"{title}\n(nothing to plot yet)", style="dim")
    if title:
        f.title(title)
    if xlabel:
        f.label(xlabel, axis="x")
    if ylabel:
        f.label(ylabel, axis="y")
    return Text.from_ansi(str(f.build()))


class DeferredPlot:
    """Mixin for a pane with a plot: `refresh_plot()` redraws after the next refresh, once
    however often asked (plotext is slow to import and to draw: the first frame does not wait
    for it). The pane defines `_draw_plot()`, which must clear `_plot_pending`."""

    _plot_pending = False

    def refresh_plot(self) -> None:
        if not getattr(self.app, "painted", True):  # type: ignore[attr-defined]
            return  # the app draws the plots after its first frame (on_ready)
        if not self._plot_pending:
            self._plot_pending = True
            self.set_timer(0.01, self._draw_plot)  # type: ignore[attr-defined]
