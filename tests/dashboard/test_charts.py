"""Figure builders are pure functions of the stored results: check them on hand-made input."""

import json
import math

from apps.core import charts as chart_kit
from apps.monitoring import charts as drift_charts
from apps.training import charts
from tests.dashboard.factories import family_result


def test_it_replaces_values_json_cannot_carry() -> None:
    cleaned = chart_kit.clean({"a": [1.0, math.nan, {"b": math.inf}], "c": (2, -math.inf)})
    assert cleaned == {"a": [1.0, None, {"b": None}], "c": [2, None]}
    json.dumps(cleaned, allow_nan=False)  # raises if anything slipped through


def test_it_orders_feature_weights_by_magnitude() -> None:
    figure = charts.feature_weights("lr", {"Age": -0.5, "Fare": 0.1, "Sex=male": -1.3})
    bar = figure["data"][0]
    assert bar["y"] == ["Fare", "Age", "Sex=male"]  # plotly draws the last on top
    assert bar["x"] == [0.1, -0.5, -1.3]


def test_it_survives_a_family_without_curves_or_timing() -> None:
    partial = {"lr": {"metrics": {"eval_auc": 0.8}}, "rf": family_result("rf")}
    assert [t["name"] for t in charts.roc_curves(partial)["data"]] == ["rf (AUC 0.884)", "chance"]
    assert charts.auc_vs_time(partial)["data"][0]["x"] == [None, 21.7]
    assert charts.auc_leaderboard(partial)["data"][0]["x"] == ["rf", "lr"]


def test_it_draws_no_gain_chart_without_a_champion() -> None:
    assert charts.auc_difference({"difference": None}) is None


def test_it_leaves_gaps_where_a_check_had_no_psi_for_a_feature() -> None:
    from datetime import UTC, datetime

    reports = [
        {"created_at": datetime(2026, 1, 1, tzinfo=UTC), "features": {"Sex": {"psi": 0.1}}},
        {
            "created_at": datetime(2026, 1, 2, tzinfo=UTC),
            "features": {"Sex": {"psi": None}, "Age": {"psi": 0.4, "floor": 0.1}},
        },
    ]
    figure = drift_charts.psi_over_time(reports, threshold=0.2, critical=0.3)
    traces = {t["name"]: t for t in figure["data"]}
    assert traces["Sex"]["y"] == [0.1, None] and traces["Age"]["y"] == [None, 0.4]
    assert traces["Age noise floor"]["y"] == [None, 0.1]
    assert traces["warning threshold 0.2"]["x"] == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-02T00:00:00+00:00",
    ]
