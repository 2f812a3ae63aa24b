"""Plotly figures (plain dicts) of drift reports: PSI over time and baseline vs live bins."""

from typing import Any

from apps.core.charts import Figure, figure

FEATURE_COLORS = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#65a30d")


def _reference(name: str, value: float, start: Any, end: Any, colour: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": f"{name} {value:g}",
        "x": [start, end],
        "y": [value, value],
        "line": {"color": colour, "dash": "dash", "width": 2},
        "hoverinfo": "name",
    }


def psi_over_time(reports: list[dict[str, Any]], *, threshold: float, critical: float) -> Figure:
    """One line per feature; dotted in the same colour: the noise floor of that window size."""
    names: list[str] = []
    for report in reports:
        names += [name for name in report["features"] if name not in names]
    times = [report["created_at"].isoformat() for report in reports]
    traces: list[dict[str, Any]] = []
    for index, name in enumerate(names):
        colour = FEATURE_COLORS[index % len(FEATURE_COLORS)]
        cells = [report["features"].get(name) or {} for report in reports]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "legendgroup": name,
                "x": times,
                "y": [cell.get("psi") for cell in cells],
                "line": {"color": colour},
            }
        )
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{name} noise floor",
                "legendgroup": name,
                "showlegend": False,
                "x": times,
                "y": [cell.get("floor") for cell in cells],
                "line": {"color": colour, "dash": "dot", "width": 1},
            }
        )
    if times:
        traces.append(_reference("warning threshold", threshold, times[0], times[-1], "#f59e0b"))
        traces.append(_reference("critical", critical, times[0], times[-1], "#dc2626"))
    return figure(
        traces,
        "PSI per feature over time (dotted: noise floor; dashed: thresholds)",
        height=420,
        yaxis={"title": {"text": "PSI"}, "rangemode": "tozero"},
        xaxis={"title": {"text": "check time (UTC)"}},
        legend={"orientation": "h", "y": -0.25},
    )


def distribution_pair(name: str, feature: dict[str, Any]) -> Figure:
    """Baseline (training) vs live (window) share per bin of one feature."""
    labels = [str(label) for label in feature.get("labels", [])]
    psi_value = feature.get("psi")
    shown = "n/a" if psi_value is None else f"{psi_value:.3f}"
    return figure(
        [
            {
                "type": "bar",
                "name": "baseline (training)",
                "x": labels,
                "y": feature.get("expected", []),
                "marker": {"color": "#94a3b8"},
            },
            {
                "type": "bar",
                "name": "live (window)",
                "x": labels,
                "y": feature.get("actual", []),
                "marker": {"color": "#dc2626" if feature.get("drifted") else "#2563eb"},
            },
        ],
        f"{name}: PSI {shown}",
        barmode="group",
        height=300,
        yaxis={"title": {"text": "share of rows"}, "tickformat": ".0%"},
    )


def performance_over_time(reports: list[dict[str, Any]], metric: str = "accuracy") -> Figure:
    """Estimated metric with its 95% band, realised values where labels came, evaluation line."""
    times = [report["created_at"].isoformat() for report in reports]
    cells = [report["performance"]["estimate"][metric] for report in reports]
    realised = [(report["performance"].get("realised") or {}).get(metric) for report in reports]
    reference = [report["performance"].get("reference", {}).get(metric) for report in reports]
    band = {"color": "rgba(37, 99, 235, 0)"}
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "band high",
            "x": times,
            "y": [c["high"] for c in cells],
            "line": band,
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "95% band",
            "x": times,
            "y": [c["low"] for c in cells],
            "line": band,
            "fill": "tonexty",
            "fillcolor": "rgba(37, 99, 235, 0.15)",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"estimated {metric}",
            "x": times,
            "y": [c["value"] for c in cells],
            "line": {"color": "#2563eb"},
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": f"realised {metric} (labelled rows)",
            "x": times,
            "y": realised,
            "marker": {"color": "#16a34a", "size": 9, "symbol": "diamond"},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "evaluation",
            "x": times,
            "y": reference,
            "line": {"color": "#64748b", "dash": "dash", "width": 1},
        },
    ]
    return figure(
        traces,
        f"Estimated {metric} without labels (band: 95%; diamonds: realised)",
        height=360,
        yaxis={"title": {"text": metric}, "range": [0, 1]},
        xaxis={"title": {"text": "check time (UTC)"}},
    )
