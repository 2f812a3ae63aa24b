"""Drift incidents: opened by a critical check, kept open until handled, shown where people look."""

import io
import random
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.monitoring import psi
from apps.monitoring.models import DriftIncident, DriftReport
from apps.monitoring.selectors import drift_incident_history
from apps.monitoring.services.drift_checks import drift_report_create
from apps.monitoring.services.incidents import drift_incident_track
from apps.training.contract import parse_dataset
from apps.training.models import ModelVersion, TrainingRun
from tests.factories import inference_rows_log, model_version_install
from tests.support.commands import drift_check

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def rows(titanic_bytes: bytes) -> list[dict[str, Any]]:
    return parse_dataset(titanic_bytes).rows


@pytest.fixture
def profile(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return psi.build_baseline(psi.rows_to_columns(rows))


@pytest.fixture
def champion(profile: dict[str, Any], settings: Any, tmp_path: Path) -> ModelVersion:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    return model_version_install(1, feature_profile=profile)


def _log(passengers: list[dict[str, Any]], *, version: int = 1) -> None:
    inference_rows_log(passengers, version=version)


def _sample(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [dict(rng.choice(rows)) for _ in range(n)]


def _critical(rows: list[dict[str, Any]], seed: int = 3, version: int = 1) -> DriftReport:
    shifted = [{**p, "Fare": (p["Fare"] or 10.0) * 3} for p in _sample(rows, 200, seed)]
    _log(shifted, version=version)
    report = drift_report_create()
    assert report.verdict == "critical"
    return report


def test_it_opens_an_incident_on_a_critical_check_and_keeps_it_through_small_and_clean_windows(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _log(_sample(rows, 120, seed=1))
    assert drift_report_create().verdict == "none"
    assert not DriftIncident.objects.exists()  # a clean check opens nothing

    opening = _critical(rows)
    incident = DriftIncident.objects.get()
    assert (incident.status, incident.opened_by_id, incident.model_version) == (
        "open",
        opening.pk,
        1,
    )
    assert "Fare" in incident.features

    _log(_sample(rows, 11, seed=2))  # an 11-row window: too small to say anything
    small = drift_report_create()
    _log(_sample(rows, 150, seed=4))  # clean, but the drifted champion still serves
    clean = drift_report_create()
    assert (small.verdict, clean.verdict) == ("insufficient_data", "none")
    incident.refresh_from_db()
    assert incident.status == "open" and incident.closed_at is None
    assert {small.incident_id, clean.incident_id} == {incident.pk}

    events = drift_incident_history(incident)
    assert [e.kind for e in events if e.report_id] == ["opened", "no retrain", "check", "check"]
    assert "not checked: 11 rows, fewer than the 50" in events[2].text
    assert "no inference row received a true label" in events[1].text

    second = _critical(rows, seed=5)  # a later drift joins the open incident, opens no other
    assert second.incident_id == incident.pk and DriftIncident.objects.count() == 1


def test_it_resolves_the_incident_when_a_new_champion_s_traffic_checks_clean(
    champion: ModelVersion, rows: list[dict[str, Any]], profile: dict[str, Any]
) -> None:
    _critical(rows)
    model_version_install(2, feature_profile=profile)
    _log(_sample(rows, 30, seed=6), version=2)
    assert drift_report_create().incident.status == "open"  # too few rows of the new champion
    _log(_sample(rows, 150, seed=7), version=2)
    closing = drift_report_create()
    incident = DriftIncident.objects.get()
    assert (closing.verdict, closing.model_version) == ("none", 2)
    assert (incident.status, incident.closed_by_report_id) == ("resolved", closing.pk)
    assert drift_incident_history(incident)[-1].kind == "resolved"
    _critical(rows, seed=8, version=2)  # drift on the new champion is a new incident
    assert DriftIncident.objects.filter(status="open").exclude(pk=incident.pk).count() == 1


def test_it_shows_the_retrain_and_the_rejected_candidate_in_the_history(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    report = _critical(rows)
    run = TrainingRun.objects.create(
        profile="quick",
        families=["lr"],
        trigger="drift",
        data_version=champion.data_version,
        status="succeeded",
        active=None,
    )
    DriftReport.objects.filter(pk=report.pk).update(
        retrain_run=run, retrain_note=f"retrain started: run {run.pk}"
    )
    reason = "FAIL AUC gain -0.0056 < min_auc_delta 0.0050 (candidate 0.8752 vs champion 0.8808)"
    ModelVersion.objects.create(
        name=champion.name,
        version=2,
        training_run=run,
        data_version=champion.data_version,
        family="lr",
        mlflow_run_id="r2",
        model_uri="m",
        scorer_uri="s",
        scorer_sha256="0",
        status="rejected",
        gate_evidence={"passed": False, "reasons": [reason, "PASS per-class"]},
    )
    events = drift_incident_history(DriftIncident.objects.get())
    kinds = {e.kind: e for e in events}
    assert kinds["retrain"].run_id == run.pk
    assert kinds["candidate rejected"].text == f"v2: {reason}"


def _acknowledger(*permissions: str) -> Client:
    user = User.objects.create_user(f"u{len(permissions)}", password="a-long-test-password-42")
    for codename in ("view_dashboard", *permissions):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_it_closes_an_incident_only_by_an_acknowledgement_with_a_note(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _critical(rows)
    incident = DriftIncident.objects.get()
    url = reverse("dashboard:drift-incident-ack", args=[incident.pk])
    viewer = _acknowledger()
    assert viewer.post(url, {"note": "fine"}).status_code == 403
    ops = _acknowledger("acknowledge_driftincident")
    page = ops.get(reverse("dashboard:drift")).content.decode()
    assert "Open incident" in page and url in page
    overview = ops.get(reverse("dashboard:overview")).content.decode()
    assert f"open incident #{incident.pk}" in overview
    ops.post(url, {"note": "  "})
    incident.refresh_from_db()
    assert incident.is_open
    ops.post(url, {"note": "fare shift is a price change; retrain scheduled tomorrow"})
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == ("acknowledged", "u1")
    events = drift_incident_history(incident)
    assert (
        events[-1].text
        == "acknowledged by u1: fare shift is a price change; retrain scheduled tomorrow"
    )
    detail = ops.get(reverse("dashboard:drift-incident", args=[incident.pk])).content.decode()
    assert "acknowledged by u1" in detail
    with pytest.raises(CommandError, match="already acknowledged"):
        call_command("drift_ack", str(incident.pk), "--note", "again")


def test_it_acknowledges_from_the_command_line(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _log([{**p, "Fare": (p["Fare"] or 10.0) * 3} for p in _sample(rows, 200, 3)])
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("drift_check", stdout=out)
    assert exit_.value.code == 42
    summary = out.getvalue()
    assert "Critical on v1's traffic: max PSI" in summary and "drifted features: " in summary
    incident = DriftIncident.objects.get()
    assert f"manage.py drift_ack {incident.pk} --note" in summary
    assert "{" not in summary  # a human summary, not the JSON document
    call_command("drift_ack", str(incident.pk), "--note", "known", "--by", "ops", stdout=out)
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by, incident.note) == (
        "acknowledged",
        "ops",
        "known",
    )
    _log(_sample(rows, 5, seed=9))
    code, document = drift_check()
    assert (code, document["verdict"], document["incident"]) == (0, "insufficient_data", None)


def test_it_says_not_checked_for_a_window_without_rows(champion: ModelVersion) -> None:
    report = drift_report_create()
    assert report.rows == 0 and not report.checked
    client = _acknowledger()
    page = client.get(reverse("dashboard:drift-report", args=[report.pk])).content.decode()
    assert "not checked" in page
    overview = client.get(reverse("dashboard:overview")).content.decode()
    assert "not checked" in overview


def test_it_opens_on_warnings_only_when_configured(
    champion: ModelVersion, rows: list[dict[str, Any]], settings: Any
) -> None:
    report = DriftReport.objects.create(
        window_start=timezone.now(),
        window_end=timezone.now(),
        rows=100,
        model_version=1,
        verdict="warning",
        max_psi=0.25,
    )
    assert drift_incident_track(report=report) is None
    settings.DRIFT_INCIDENT_ON = "warning"
    assert drift_incident_track(report=report).verdict == "warning"
