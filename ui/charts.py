"""Bokeh figures the dashboard streams into (one set per browser session)."""

from __future__ import annotations

from typing import cast

from bokeh.models import ColumnDataSource, FactorRange
from bokeh.plotting import figure

TIMELINE_COLUMNS = ("time", "transactions", "alerts", "fraud_rate", "dead_letters", "latency_p99_ms")


def timeline_source() -> ColumnDataSource:
    return ColumnDataSource({name: [] for name in TIMELINE_COLUMNS})


def line_chart(title: str, source: ColumnDataSource, series: list[tuple[str, str, str]], y_label: str) -> figure:
    """A time series figure; ``series`` is (column, legend, colour)."""
    chart = figure(
        title=title,
        height=220,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        tools="pan,wheel_zoom,reset,hover",
        toolbar_location=None,
    )
    for column, legend, colour in series:
        chart.line("time", column, source=source, legend_label=legend, line_width=2, color=colour)
    chart.yaxis.axis_label = y_label
    chart.legend.location = "top_left"
    chart.legend.label_text_font_size = "9pt"
    return chart


def bar_source() -> ColumnDataSource:
    return ColumnDataSource({"label": [], "value": []})


def bar_chart(title: str, source: ColumnDataSource, colour: str) -> figure:
    """Horizontal bars, largest on top; the factors are replaced when the data is."""
    chart = figure(
        title=title,
        height=260,
        sizing_mode="stretch_width",
        y_range=FactorRange(factors=[]),
        tools="hover",
        tooltips="@label: @value{0,0}",
        toolbar_location=None,
    )
    chart.hbar(y="label", right="value", height=0.7, source=source, color=colour)
    return chart


def set_bars(chart: figure, source: ColumnDataSource, values: dict[str, float], top: int = 10) -> None:
    ranked = sorted(values.items(), key=lambda item: item[1], reverse=True)[:top]
    labels = [label for label, _ in reversed(ranked)]
    if labels == list(source.data["label"]) and [v for _, v in reversed(ranked)] == list(source.data["value"]):
        return
    cast(FactorRange, chart.y_range).factors = labels
    source.data = {"label": labels, "value": [value for _, value in reversed(ranked)]}
