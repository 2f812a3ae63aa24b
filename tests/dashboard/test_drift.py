"""Drift pages: PSI over time with thresholds and noise floors, the report list and detail."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.monitoring.models import DriftReport
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(db: Any) -> list[DriftReport]:
    now = timezone.now()
    reports = [
        f.drift_report_create(created_at=now - timedelta(hours=3), psi={"Sex": 0.05, "Age": 0.1}),
        f.drift_report_create(
            created_at=now - timedelta(hours=2), verdict="insufficient_data", rows=10
        ),
        f.drift_report_create(
            created_at=now - timedelta(hours=1), verdict="critical", psi={"Sex": 0.35, "Age": 0.12}
        ),
    ]
    reports[1].error = "too few rows"
    reports[1].save()
    return reports


def test_it_plots_psi_per_feature_over_time(viewer_client: Client, history: Any) -> None:
    figure = viewer_client.get(reverse("dashboard:drift")).context["psi_figure"]
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert traces["Sex"]["y"] == [0.05, 0.35]  # the insufficient check has no PSI to plot
    assert traces["Age"]["y"] == [0.1, 0.12]
    assert traces["Sex noise floor"]["y"] == [0.05, 0.05]
    assert traces["warning threshold 0.2"]["y"] == [0.2, 0.2]
    assert traces["critical 0.3"]["y"] == [0.3, 0.3]
    assert traces["Sex"]["x"][0] == history[0].created_at.isoformat()


def test_it_lists_reports_with_verdicts(viewer_client: Client, history: Any) -> None:
    body = viewer_client.get(reverse("dashboard:drift")).content.decode()
    assert body.index(f"#{history[2].pk}<") < body.index(f"#{history[0].pk}<")  # newest first
    assert 'verdict-critical">Critical' in body and "insufficient data" in body
    assert "too few rows" in body


def test_it_shows_baseline_against_live_per_feature(viewer_client: Client, history: Any) -> None:
    page = viewer_client.get(reverse("dashboard:drift-report", args=[history[2].pk]))
    features = {item["name"]: item for item in page.context["features"]}
    sex = features["Sex"]["figure"]["data"]
    assert sex[0]["name"] == "baseline (training)" and sex[1]["name"] == "live (window)"
    assert sex[0]["x"] == ["male", "female", "OTHER", "MISSING"]
    assert sex[0]["y"] == history[2].features["Sex"]["expected"]
    assert sex[1]["y"] == history[2].features["Sex"]["actual"]
    assert sex[1]["marker"]["color"] == "#dc2626"  # drifted features stand out
    assert features["Age"]["figure"]["data"][1]["marker"]["color"] == "#2563eb"
    assert b"Sex: PSI 0.350" in page.content


def test_it_renders_a_report_without_features(viewer_client: Client, history: Any) -> None:
    page = viewer_client.get(reverse("dashboard:drift-report", args=[history[1].pk]))
    assert page.status_code == 200 and page.context["features"] == []
    assert b"too few rows" in page.content


def test_it_shows_no_chart_without_computed_psi(viewer_client: Client) -> None:
    f.drift_report_create(verdict="insufficient_data")
    page = viewer_client.get(reverse("dashboard:drift"))
    assert page.context["psi_figure"] is None
    assert b"No drift check has computed PSI yet" in page.content
