"""plotext figures rendered to rich Text (plotext keeps global state: call from the UI thread).

The legend is a line of text above the plot, never drawn over the data: at 80 columns a
boxed legend would cover a quarter of the plot, exactly where the last epochs are."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

MIN_HEIGHT = 6  # plotext rows: the canvas, the x ticks and their labels


def _legend(pixels: list[tuple[str, str]]) -> Text:
    """'── label' per series, each dash in the colour plotext gave the series."""
    out = Text()
    for ansi_dash, label in pixels:
        out.append_text(Text.from_ansi(ansi_dash))
        out.append(f" {label}   ")
    return out


def line_plot(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], width: int,
              height: int, title: str = "", xlabel: str = "", ylabel: str = "",
              theme: str = "simple") -> Text:
    """One line per (label, xs, ys); empty series are skipped. `height` counts every row
    returned: the title line, the legend line and the plot with its x axis."""
    import plotext as plt

    f = plt.figure
    f.clear()
    head = Text(title, style="bold") if title else Text()
    f.plot_size(max(width, 20), max(height - 2, MIN_HEIGHT))
    f.theme(theme)
    drawn: list[tuple[str, str]] = []
    for label, xs, ys in series:
        if len(xs) == 0:
            continue
        s = f.signal(list(map(float, xs)), list(map(float, ys)), marker="braille")
        s.lines()
        f.draw(s)
        pixel = next(iter(s._get_unique_pixels()), None)  # the colour plotext picked
        dash = pixel._get_string().replace("PlotextPixel()", "──") if pixel else "──"
        drawn.append((dash, label))
    if not drawn:
        return Text(f"{title}\n(nothing to plot yet)", style="dim")
    f.legend(active=False)
    if xlabel:
        f.label(xlabel, axis="x")
    if ylabel:
        f.label(ylabel, axis="y")
    head.append("\n")
    head.append_text(_legend(drawn))
    head.append("\n")
    head.append_text(Text.from_ansi(str(f.build()).rstrip("\n")))
    return head


def hist_plot(values: Sequence[float], width: int, height: int, title: str = "",
              xlabel: str = "", bins: int = 40, theme: str = "simple") -> Text:
    """A histogram of `values` (counts per bin); `height` counts the title's lines too."""
    import textwrap

    import plotext as plt

    f = plt.figure
    f.clear()
    title_rows = len(textwrap.wrap(title, width)) if title else 0
    f.plot_size(max(width, 20), max(height - title_rows, MIN_HEIGHT))
    f.theme(theme)
    if len(values) == 0:
        return Text(f"{title}\n(nothing to plot yet)", style="dim")
    f.draw(f.hist(list(map(float, values)), bins=bins))
    f.legend(active=False)
    if xlabel:
        f.label(xlabel, axis="x")
    head = Text(title, style="bold") if title else Text()
    head.append("\n")
    head.append_text(Text.from_ansi(str(f.build()).rstrip("\n")))
    return head


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
            self.set_timer(0.01, self._draw_when_attached)  # type: ignore[attr-defined]

    def _draw_when_attached(self) -> None:
        """The timer can fire while the app closes and its widgets go: then draw nothing."""
        from textual.css.query import NoMatches

        try:
            if self.is_attached:  # type: ignore[attr-defined]
                self._draw_plot()  # type: ignore[attr-defined]
        except NoMatches:
            if self.is_attached and not self.app._closing:  # type: ignore[attr-defined]
                raise
        finally:
            self._plot_pending = False


RICH_COLOUR = {"gray": "bright_black"}  # plotext colour names that rich spells otherwise


def scatter_plot(groups: Sequence[tuple[str, str, str, Sequence[float], Sequence[float]]],
                 width: int, height: int, title: str = "", xlabel: str = "",
                 vline: float | None = None, vline_label: str = "",
                 theme: str = "simple") -> Text:
    """Points in groups (label, symbol, colour, xs, ys), drawn in order (the last on top),
    and `vline`, a dotted vertical line (a budget), widening the x range to show it when it
    is near the points. `height` counts the title and legend lines too."""
    import plotext as plt

    f = plt.figure
    f.clear()
    xs_all = [float(x) for g in groups for x in g[3]]
    ys_all = [float(y) for g in groups for y in g[4]]
    if not xs_all:
        return Text(f"{title}\n(nothing to plot yet)", style="dim")
    f.plot_size(max(width, 20), max(height - 2, MIN_HEIGHT))
    f.theme(theme)
    lo, hi = min(xs_all), max(xs_all)
    span = (hi - lo) or abs(hi) or 1.0
    shown = vline is not None and lo - span <= vline <= hi + span
    if shown:
        lo, hi = min(lo, vline), max(hi, vline)
    pad = 0.04 * ((hi - lo) or span)
    f.ruler("x").lim(lo - pad, hi + pad)
    y_lo, y_hi = min(ys_all), max(ys_all)
    y_pad = 0.08 * ((y_hi - y_lo) or 1.0)
    f.ruler("y").lim(y_lo - y_pad, y_hi + y_pad)
    legend = Text()
    if shown:
        n = 4 * max(height, 4)
        line_ys = [y_lo - y_pad + (y_hi - y_lo + 2 * y_pad) * k / (n - 1) for k in range(n)]
        f.draw(f.signal([vline] * n, line_ys, marker=plt.marker("┆", pixel="red")))
    for label, symbol, colour, xs, ys in groups:
        if len(xs):
            f.draw(f.signal(list(map(float, xs)), list(map(float, ys)),
                            marker=plt.marker(symbol, pixel=colour)))
            legend.append(symbol, style=RICH_COLOUR.get(colour, colour))
            legend.append(f" {label}  ")
    if vline_label:
        legend.append("┆", style="red")
        legend.append(f" {vline_label}" + (" (off the plot)" if vline is not None and not shown
                                            else ""))
    f.legend(active=False)
    if xlabel:
        f.label(xlabel, axis="x")
    head = Text(title, style="bold") if title else Text()
    if title and head.cell_len + 2 + legend.cell_len <= width:
        head.append("  ")  # one line for both when it fits: the plot gets the row
        f.plot_size(max(width, 20), max(height - 1, MIN_HEIGHT))
    else:
        head.append("\n")
    head.append_text(legend)
    head.append("\n")
    head.append_text(Text.from_ansi(str(f.build()).rstrip("\n")))
    return head
