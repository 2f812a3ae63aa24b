"""Drift checks against the database: SQL binning, verdicts, windows, schedules and the loop."""

import io
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from apps.core.features import FEATURES
from apps.monitoring import psi
from apps.monitoring.models import DriftReport, NoiseFloor
from apps.monitoring.services.baselines import drift_baseline_for
from apps.monitoring.services.drift_checks import drift_report_create, window_counts
from apps.monitoring.services.retraining import labelled_data_version_create
from apps.training.contract import parse_dataset
from apps.training.models import DataVersion, ModelVersion, TrainingRun
from apps.training.services.model_versions import feature_profile_publish
from tests.factories import inference_rows_log, model_version_install
from tests.support.commands import drift_check

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def rows(titanic_bytes: bytes) -> list[dict[str, Any]]:
    return parse_dataset(titanic_bytes).rows


@pytest.fixture
def champion(rows: list[dict[str, Any]], settings: Any, tmp_path: Path) -> ModelVersion:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    return model_version_install(1, feature_profile=psi.build_baseline(psi.rows_to_columns(rows)))


def _log(passengers: list[dict[str, Any]], *, version: int = 1, minutes_ago: float = 1) -> None:
    inference_rows_log(passengers, version=version, minutes_ago=minutes_ago)


def _sample(rows: list[dict[str, Any]], n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [dict(rng.choice(rows)) for _ in range(n)]


def test_it_bins_in_sql_exactly_as_the_reference_rule(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    baseline = drift_baseline_for(champion).baseline
    passengers = _sample(rows, 400)
    for feature in ("Age", "Fare", "SibSp", "Parch"):  # values exactly on every edge
        for edge in baseline["features"][feature]["edges"]:
            value = int(edge) if feature in ("SibSp", "Parch") else edge
            passengers.append({**passengers[0], feature: value})
    passengers.append({**passengers[0], "Age": None, "Fare": None, "Embarked": None})
    passengers.append({**passengers[0], "Embarked": "Q", "Fare": 9999.0, "Age": 0.0})
    _log(passengers)
    now = timezone.now()
    total, counts = window_counts(baseline, version=1, start=now - timedelta(hours=1), end=now)
    assert total == len(passengers)
    columns = psi.rows_to_columns(passengers)
    for name, feature in baseline["features"].items():
        expected = psi.bin_counts(feature, columns[name])
        assert np.array_equal(counts[name], expected), name


def test_it_reports_no_drift_for_in_distribution_traffic(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _log(_sample(rows, 300))
    code, report = drift_check()
    assert (code, report["verdict"], report["rows"], report["model_version"]) == (0, "none", 300, 1)
    assert all(not f["drifted"] for f in report["features"].values())
    assert NoiseFloor.objects.filter(window_rows=300).count() == 1


def test_it_reports_critical_drift_and_exits_42(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    shifted = [{**p, "Fare": p["Fare"] * 2 if p["Fare"] else p["Fare"]} for p in _sample(rows, 200)]
    _log(shifted)
    code, report = drift_check()
    assert (code, report["verdict"]) == (42, "critical")
    assert report["features"]["Fare"]["drifted"]
    assert report["features"]["Fare"]["psi"] >= 0.3 > report["features"]["Sex"]["psi"]
    assert "no inference row received a true label" in report["retrain_note"]
    assert not TrainingRun.objects.filter(trigger="drift").exists()
    stored = DriftReport.objects.get()
    assert stored.features["Fare"]["labels"][-1] == "MISSING"
    assert abs(sum(stored.features["Fare"]["actual"]) - 1) < 1e-9


def test_it_needs_enough_rows_and_a_champion(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _log(_sample(rows, 49))
    code, report = drift_check()
    assert (code, report["verdict"], report["rows"]) == (0, "insufficient_data", 49)
    ModelVersion.objects.update(is_champion=None, status="retired")
    code, report = drift_check()
    assert (code, report["verdict"]) == (0, "insufficient_data")
    assert "no champion" in report["error"]


def test_it_checks_each_row_once_and_only_the_champion_s_traffic(
    champion: ModelVersion, rows: list[dict[str, Any]]
) -> None:
    _log(_sample(rows, 120), minutes_ago=30)
    _log(_sample(rows, 500), version=7, minutes_ago=30)  # another version's traffic
    first = drift_report_create()
    assert first.rows == 120
    _log(_sample(rows, 60, seed=9), minutes_ago=0)
    second = drift_report_create()
    assert second.rows == 60
    assert second.window_start == first.window_end


def test_it_refuses_retrains_in_cooldown_and_while_one_runs(
    champion: ModelVersion, rows: list[dict[str, Any]], settings: Any
) -> None:
    settings.RETRAIN_COOLDOWN_MINUTES = 30
    recent = TrainingRun.objects.create(
        profile="quick",
        families=["lr"],
        trigger="drift",
        data_version=champion.data_version,
        status="succeeded",
        active=None,
    )
    _log([{**p, "Pclass": 1, "Fare": 300.0} for p in _sample(rows, 200)])
    report = drift_report_create()
    assert report.verdict == "critical"
    assert f"cooldown after drift retrain run {recent.pk}" in report.retrain_note
    TrainingRun.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(hours=2))
    TrainingRun.objects.create(
        profile="quick",
        families=["lr"],
        trigger="cli",
        data_version=champion.data_version,
        status="running",
    )
    _log([{**p, "Pclass": 1, "Fare": 300.0} for p in _sample(rows, 200, seed=5)], minutes_ago=0)
    assert "already queued or running" in drift_report_create().retrain_note
    settings.DRIFT_RETRAIN_ON = "off"
    _log([{**p, "Pclass": 1} for p in _sample(rows, 200, seed=6)], minutes_ago=0)
    assert "DRIFT_RETRAIN_ON=off" in drift_report_create().retrain_note


def test_it_extends_the_data_with_fresh_labels_once(
    ingested: DataVersion, rows: list[dict[str, Any]]
) -> None:
    labelled = [{**p, "true_label": 1 - p["Survived"]} for p in _sample(rows, 30)]
    _log(labelled)
    _log(_sample(rows, 10))  # unlabelled rows stay out
    extended, added = labelled_data_version_create(note="test")
    assert (added, extended.rows, extended.parent_id) == (30, 891 + 30, ingested.pk)
    assert extended.labelled_rows_added == 30 and extended.is_current
    again = [{**p, "true_label": p["Survived"]} for p in _sample(rows, 5, seed=8)]
    _log(again)
    third, added = labelled_data_version_create(note="test")
    assert (added, third.rows) == (5, 891 + 35)  # the first 30 are not appended twice
    with pytest.raises(Exception, match="no inference row received a true label"):
        labelled_data_version_create(note="test")


def test_it_publishes_the_champion_s_baseline_as_standard_json(
    champion: ModelVersion, settings: Any
) -> None:
    feature_profile_publish(model_version=champion)
    text = (settings.DATA_DIR / "drift_baseline_titanic.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    document = json.loads(text)
    assert document["model_version"] == 1
    assert set(document["features"]) == set(FEATURES)
    assert document["features"]["Fare"]["labels"][-1] == "MISSING"


def test_it_sets_up_schedules_idempotently(settings: Any) -> None:
    settings.DRIFT_CHECK_MINUTES = 15
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    call_command("setup_schedules", stdout=out)
    settings.DRIFT_CHECK_MINUTES = 5
    call_command("setup_schedules", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if "titanic-drift-check" in line]
    assert "(created)" in lines[0] and "(unchanged)" in lines[1] and "updated minutes" in lines[2]
    schedule = Schedule.objects.get(name="titanic-drift-check")
    assert (schedule.name, schedule.func, schedule.minutes, schedule.repeats) == (
        "titanic-drift-check",
        "apps.monitoring.tasks.drift_check_task",
        5,
        -1,
    )
