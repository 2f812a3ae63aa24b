"""Plotly figures (as plain JSON-able dicts) of a training run's results, for the browser."""

import itertools
from collections.abc import Mapping
from typing import Any

from apps.core.charts import Figure, figure
from apps.training.results import FamilyResult

FAMILY_COLORS = {"lr": "#2563eb", "rf": "#16a34a", "gbt": "#ea580c"}
FAMILY_NAMES = {"lr": "logistic regression", "rf": "random forest", "gbt": "gradient boosting"}


def color(family: str) -> str:
    return FAMILY_COLORS.get(family, "#6b7280")


def _metric(result: FamilyResult, name: str) -> float | None:
    value = result.get("metrics", {}).get(name, result.get(name))
    return float(value) if isinstance(value, int | float) else None


def auc_leaderboard(results: Mapping[str, FamilyResult]) -> Figure:
    """Evaluation and best validation AUC per family, best first."""
    ranked = sorted(results, key=lambda f: _metric(results[f], "eval_auc") or 0.0, reverse=True)
    values = [_metric(results[f], "eval_auc") for f in ranked]
    low = min([v for v in values if v is not None] or [0.5])
    return figure(
        [
            {
                "type": "bar",
                "name": "evaluation AUC",
                "x": ranked,
                "y": values,
                "marker": {"color": [color(f) for f in ranked]},
                "text": [f"{v:.4f}" if v is not None else "" for v in values],
                "textposition": "outside",
            },
            {
                "type": "bar",
                "name": "best validation AUC",
                "x": ranked,
                "y": [_metric(results[f], "best_validation_auc") for f in ranked],
                "marker": {"color": "#cbd5e1"},
            },
        ],
        "AUC leaderboard",
        barmode="group",
        yaxis={"range": [max(0.0, low - 0.1), 1.0], "title": {"text": "AUC"}},
    )


def confusion_matrix(family: str, matrix: list[list[int]]) -> Figure:
    """Rows are true classes, columns predicted classes (as Spark and the gate count them)."""
    return figure(
        [
            {
                "type": "heatmap",
                "z": matrix,
                "x": ["predicted 0", "predicted 1"],
                "y": ["true 0", "true 1"],
                "text": matrix,
                "texttemplate": "%{text}",
                "colorscale": [[0.0, "#eff6ff"], [1.0, "#60a5fa"]],
                "textfont": {"color": "#111827", "size": 16},
                "showscale": False,
            }
        ],
        f"{family}: confusion matrix",
        height=260,
        yaxis={"autorange": "reversed"},
    )


def feature_weights(family: str, weights: dict[str, float]) -> Figure:
    """Coefficients (LR, signed) or importances (trees), largest magnitude on top."""
    ordered = sorted(weights.items(), key=lambda item: abs(item[1]))
    kind = "coefficients" if family == "lr" else "feature importances"
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [value for _, value in ordered],
                "y": [name for name, _ in ordered],
                "marker": {"color": color(family)},
            }
        ],
        f"{family}: {kind}",
        height=max(260, 26 * len(ordered) + 80),
        margin={"l": 110, "r": 20, "t": 48, "b": 40},
    )


def roc_curves(results: Mapping[str, FamilyResult]) -> Figure:
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"{family} (AUC {(_metric(result, 'eval_auc') or 0.0):.3f})",
            "x": result["roc"]["fpr"],
            "y": result["roc"]["tpr"],
            "line": {"color": color(family), "shape": "hv"},
        }
        for family, result in results.items()
        if result.get("roc")
    ]
    chance = {
        "type": "scatter",
        "mode": "lines",
        "name": "chance",
        "x": [0, 1],
        "y": [0, 1],
        "line": {"color": "#9ca3af", "dash": "dot"},
    }
    return figure(
        [*traces, chance],
        "ROC curves (evaluation split)",
        height=380,
        xaxis={"title": {"text": "false positive rate"}, "range": [0, 1]},
        yaxis={"title": {"text": "true positive rate"}, "range": [0, 1.02]},
    )


def auc_vs_time(results: Mapping[str, FamilyResult]) -> Figure:
    families = list(results)
    return figure(
        [
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [_metric(results[f], "wall_seconds") for f in families],
                "y": [_metric(results[f], "eval_auc") for f in families],
                "text": families,
                "textposition": "top center",
                "marker": {"size": 14, "color": [color(f) for f in families]},
                "name": "family",
            }
        ],
        "Evaluation AUC vs training time",
        xaxis={"title": {"text": "wall time (s): search, refit and evaluation"}},
        yaxis={"title": {"text": "evaluation AUC"}},
    )


def memory_and_cpu(results: Mapping[str, FamilyResult]) -> Figure:
    """Peak RSS of the Python driver and the JVM (stacked) with mean CPU on a second axis."""
    families = list(results)
    return figure(
        [
            {
                "type": "bar",
                "name": "peak RSS driver (MB)",
                "x": families,
                "y": [_metric(results[f], "peak_rss_driver_mb") for f in families],
                "marker": {"color": "#93c5fd"},
            },
            {
                "type": "bar",
                "name": "peak RSS JVM (MB)",
                "x": families,
                "y": [_metric(results[f], "peak_rss_jvm_mb") for f in families],
                "marker": {"color": "#1d4ed8"},
            },
            {
                "type": "scatter",
                "mode": "markers",
                "name": "mean CPU (% of one core)",
                "x": families,
                "y": [_metric(results[f], "mean_cpu_percent") for f in families],
                "yaxis": "y2",
                "marker": {"size": 14, "symbol": "diamond", "color": "#f59e0b"},
            },
        ],
        "Peak memory and CPU",
        barmode="stack",
        yaxis={"title": {"text": "MB"}},
        yaxis2={
            "title": {"text": "CPU %"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        margin={"l": 60, "r": 60, "t": 48, "b": 48},
    )


def auc_difference(evidence: dict[str, Any]) -> Figure | None:
    """The gate's AUC gain with its 95% interval against zero and the required gain."""
    difference = evidence.get("difference")
    if not difference:
        return None
    required = (evidence.get("policy") or {}).get("min_auc_delta")
    delta = difference["delta"]
    lines = [
        {"type": "line", "x0": 0, "x1": 0, "y0": -0.5, "y1": 0.5, "line": {"color": "#6b7280"}},
    ]
    if required is not None:
        lines.append(
            {
                "type": "line",
                "x0": required,
                "x1": required,
                "y0": -0.5,
                "y1": 0.5,
                "line": {"color": "#dc2626", "dash": "dash"},
            }
        )
    return figure(
        [
            {
                "type": "scatter",
                "mode": "markers",
                "name": "AUC gain",
                "x": [delta],
                "y": ["candidate - champion"],
                "error_x": {
                    "type": "data",
                    "symmetric": False,
                    "array": [difference["ci_high"] - delta],
                    "arrayminus": [delta - difference["ci_low"]],
                },
                "marker": {"size": 12, "color": "#2563eb"},
            }
        ],
        "AUC gain with 95% interval (dashed: required gain)",
        height=170,
        shapes=lines,
        margin={"l": 150, "r": 20, "t": 40, "b": 30},
        showlegend=False,
    )


def run_figures(results: Mapping[str, FamilyResult]) -> dict[str, Figure]:
    """The run-level figures of the run detail page (none before a family has finished)."""
    if not results:
        return {}
    return {
        "leaderboard": auc_leaderboard(results),
        "roc": roc_curves(results),
        "time": auc_vs_time(results),
        "resources": memory_and_cpu(results),
    }


def family_figures(family: str, result: FamilyResult) -> dict[str, Figure | None]:
    """Confusion matrix and feature weights of one family, when its results have them."""
    matrix, weights = result.get("confusion_matrix"), result.get("feature_weights")
    return {
        "confusion": confusion_matrix(family, matrix) if matrix else None,
        "weights": feature_weights(family, weights) if weights else None,
    }


def shadow_scores(shadow: dict[str, Any]) -> Figure | None:
    """Score histograms of the candidate and the champion on the same replayed requests."""
    histograms = shadow.get("histograms") if shadow else None
    if not histograms:
        return None
    edges = histograms["edges"]
    centres = [f"{low:.1f}-{high:.1f}" for low, high in itertools.pairwise(edges)]
    return figure(
        [
            {
                "type": "bar",
                "name": "champion",
                "x": centres,
                "y": histograms["champion"],
                "marker": {"color": "#94a3b8"},
            },
            {
                "type": "bar",
                "name": "candidate",
                "x": centres,
                "y": histograms["candidate"],
                "marker": {"color": "#2563eb"},
            },
        ],
        "Scores on the replayed requests",
        barmode="group",
        height=280,
        xaxis={"title": {"text": "P(survived)"}},
        yaxis={"title": {"text": "requests"}},
    )
