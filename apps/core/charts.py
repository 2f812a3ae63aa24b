"""Plotly figures as plain JSON-able dicts: the dashboard's common layout and a NaN-safe builder.

Figures are built as data, not with plotly's Python API: the web process stays light and each
figure is a dict that tests can inspect. The browser draws them with plotly.js.
"""

import math
from typing import Any

Figure = dict[str, Any]


def clean(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return value


def layout(title: str, **extra: Any) -> dict[str, Any]:
    """The dashboard's common plotly layout."""
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 15}, "x": 0.01, "xanchor": "left"},
        "height": 320,
        "margin": {"l": 60, "r": 20, "t": 48, "b": 48},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.2},
    }
    return {**base, **extra}


def figure(data: list[dict[str, Any]], title: str, **extra: Any) -> Figure:
    cleaned: Figure = clean({"data": data, "layout": layout(title, **extra)})
    return cleaned
