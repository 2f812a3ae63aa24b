"""The overview: champion, 24 h traffic, latest drift verdict, job progress, approvals, MLflow."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.monitoring.models import DriftReport
from apps.training.models import ModelVersion
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def test_it_shows_the_champion_and_where_it_came_from(viewer_client: Client, settings: Any) -> None:
    settings.MLFLOW_UI_URL = "http://mlflow.example:5500/"
    data = f.data_version_create("b" * 32)
    champion = f.model_version_create(3, run=f.run_create(data=data), auc=0.8841, family="rf")
    body = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-champion-version="3"' in body and "rf" in body and "0.8841" in body
    assert f'href="/data/{data.pk}/">data v{data.pk}</a>' in body
    assert f'href="/runs/{champion.training_run_id}/"' in body
    assert "http://mlflow.example:5500/#/models/titanic_spark_model/versions/3" in body
    assert 'href="http://mlflow.example:5500/"' in body


def test_it_says_whether_the_mlflow_ui_answers(
    viewer_client: Client, mlflow_ui_answering: list[str], settings: Any
) -> None:
    url = settings.MLFLOW_UI_URL.rstrip("/")
    body = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'id="mlflow-ui-status" data-answers="true"' in body
    assert f"UI answering at <code>{url}</code>" in body
    assert '<ul class="links">' in body and f'href="{url}/#/experiments"' in body


def test_it_marks_the_mlflow_links_while_the_ui_is_silent(
    viewer_client: Client, mlflow_ui_silent: str
) -> None:
    f.model_version_create(1)
    body = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-answers="false"' in body
    assert f"MLflow UI not answering at <code>{mlflow_ui_silent}</code>" in body
    assert '<ul class="links unavailable">' in body
    assert 'class="unavailable" title="the MLflow UI is not answering">this version' in body


def test_it_counts_traffic_of_the_last_day_only(viewer_client: Client) -> None:
    f.inference_rows(10, spread_hours=10)
    f.inference_rows(7, now=timezone.now() - timedelta(days=3), seed=5)
    traffic = viewer_client.get(reverse("dashboard:overview")).context["traffic"]
    assert traffic.count == 10 and traffic.p50_latency_ms == 5.5


def test_it_shows_the_latest_drift_verdict(viewer_client: Client) -> None:
    f.drift_report_create(
        created_at=timezone.now() - timedelta(hours=2),
        verdict=DriftReport.Verdict.NONE,
        psi={"Sex": 0.01},
    )
    latest = f.drift_report_create(verdict=DriftReport.Verdict.CRITICAL, psi={"Sex": 0.41})
    body = viewer_client.get(reverse("dashboard:overview")).content.decode()
    assert 'class="badge verdict-critical">Critical' in body
    assert f'href="/drift/{latest.pk}/"' in body and "0.410" in body


def test_it_follows_a_running_job_and_counts_approvals(viewer_client: Client) -> None:
    run = f.run_create(status="running")
    champion = f.model_version_create(1)
    f.pending_request(f.model_version_create(2, status=ModelVersion.Status.CANDIDATE), champion)
    page = viewer_client.get(reverse("dashboard:overview"))
    body = page.content.decode()
    assert page.context["progress"]["id"] == run.pk
    assert 'data-progress-url="/runs/active.json"' in body and "2 / 5 grid points" in body
    assert page.context["pending_count"] == 1
    assert '<span class="pill">1</span>' in body  # the navigation's badge too


def test_it_says_idle_and_none_on_a_fresh_install(viewer_client: Client) -> None:
    page = viewer_client.get(reverse("dashboard:overview"))
    body = page.content.decode()
    assert 'data-champion-version=""' in body and "data-training-idle" in body
    assert "no check yet" in body and page.context["traffic"].count == 0
