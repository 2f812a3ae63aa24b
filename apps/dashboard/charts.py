"""The overview's small charts: traffic, latency, drift and realised accuracy/AUC over time."""

from typing import Any

from apps.core.charts import Figure, figure
from apps.monitoring import charts as monitoring_charts
from apps.monitoring.selectors import drift_report_history, drift_thresholds, performance_history
from apps.serving.selectors.traffic_series import (
    realised_accuracy_by_day,
    realised_auc_by_day,
    traffic_by_hour,
)

PSI_CHECKS_SHOWN = 48
SMALL = {"height": 260, "margin": {"l": 50, "r": 10, "t": 40, "b": 40}}


def _traffic(rows: list[dict[str, Any]]) -> tuple[Figure, Figure]:
    hours = [row["hour"].isoformat() for row in rows]
    volume = figure(
        [{"type": "bar", "x": hours, "y": [row["requests"] for row in rows], "name": "requests"}],
        "Requests per hour, last 24 h",
        **SMALL,
    )
    latency = figure(
        [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": hours,
                "y": [round(row["mean_ms"], 2) for row in rows],
                "name": "mean",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": hours,
                "y": [round(row["max_ms"], 2) for row in rows],
                "name": "worst",
                "line": {"dash": "dot"},
            },
        ],
        "Latency per hour (ms), last 24 h",
        **SMALL,
    )
    return volume, latency


def _accuracy(rows: list[dict[str, Any]], aucs: dict[Any, float | None]) -> Figure:
    days = [row["day"].date().isoformat() for row in rows]
    accuracy = [round(row["correct"] / row["labelled"], 4) for row in rows]
    auc = [aucs.get(row["day"]) for row in rows]
    return figure(
        [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": days,
                "y": accuracy,
                "name": "accuracy",
                "text": [f"{row['labelled']} labelled" for row in rows],
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": days,
                "y": [None if value is None else round(value, 4) for value in auc],
                "name": "AUC",
                "line": {"dash": "dot"},
            },
        ],
        "Realised accuracy and AUC per day (labelled traffic)",
        yaxis={"range": [0, 1]},
        **SMALL,
    )


def overview_figures() -> dict[str, Figure | None]:
    """Each figure, or None when there is nothing to draw yet (six bounded queries)."""
    traffic = traffic_by_hour(hours=24)
    history = drift_report_history(limit=PSI_CHECKS_SHOWN)
    threshold, critical = drift_thresholds(history)
    labelled = realised_accuracy_by_day(days=30)
    estimates = performance_history()
    volume, latency = _traffic(traffic) if traffic else (None, None)
    psi = None
    if history:
        psi = monitoring_charts.psi_over_time(history, threshold=threshold, critical=critical)
        psi["layout"].update(SMALL)
    return {
        "traffic": volume,
        "latency": latency,
        "psi": psi,
        "accuracy": _accuracy(labelled, realised_auc_by_day(days=30)) if labelled else None,
        "estimate": monitoring_charts.performance_over_time(estimates) if estimates else None,
    }
