"""The whole loop with real parts: Spark training, HTTP traffic, drift, retrain, promotion."""

import json
from typing import Any

import pytest
from django_q.conf import Conf
from rest_framework.test import APIClient

from apps.monitoring.models import DriftReport
from apps.monitoring.simulation import traffic_simulate
from apps.training.models import DataVersion, ModelVersion, TrainingRun
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request
from tests.factories import SEED_EXAMPLE
from tests.support.commands import drift_check

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_retrains_on_fresh_labels_and_serves_the_new_champion(
    spark: Any,
    ingested: DataVersion,
    mlflow_store: str,
    settings: Any,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # django-q2's sync mode runs the enqueued training in this process, as the worker would.
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.AUTO_PROMOTE_TITANIC = True
    settings.RETRAIN_COOLDOWN_MINUTES = 60
    # Accept any candidate so that the promotion path (not only the gate) is exercised here;
    # the gate's own rules are tested with real runs in tests/training/test_registry_spark.py.
    settings.PROMOTION_MIN_AUC_DELTA = -1.0
    settings.PROMOTION_MAX_CLASS_DROP = 1.0
    first = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert first.status == "succeeded", first.error
    assert ModelVersion.objects.get(is_champion=True).version == 1

    calm = traffic_simulate(
        rows=60, shift="none", with_labels=False, base_url=live_server.url, seed=11
    )
    assert calm.answered == 60
    code, report = drift_check()
    assert (code, report["verdict"]) == (0, "none")

    sent = traffic_simulate(
        rows=300, shift="first_class_surge", with_labels=True, base_url=live_server.url, seed=12
    )
    assert (sent.answered, sent.labelled, dict(sent.versions)) == (300, 300, {"1": 300})
    code, report = drift_check()
    assert (code, report["verdict"]) == (42, "critical"), report
    assert report["features"]["Pclass"]["drifted"]
    assert report["retrain_note"].startswith("retrain started")

    retrain = TrainingRun.objects.get(pk=report["retrain_run"])
    assert (retrain.trigger, retrain.status) == ("drift", "succeeded"), retrain.error
    assert retrain.data_version.rows == 891 + 300
    assert retrain.data_version.parent_id == ingested.pk
    candidate = ModelVersion.objects.get(version=2)
    assert candidate.gate_evidence["champion_version"] == 1
    assert candidate.gate_evidence["difference"]["se"] > 0
    assert candidate.status == "champion"

    answer = APIClient().post("/predict_titanic", SEED_EXAMPLE, format="json").json()
    assert answer["model_version"] == "2"  # picked up without a restart
    baseline = json.loads((settings.DATA_DIR / "drift_baseline_titanic.json").read_text())
    assert baseline["model_version"] == 2

    again = traffic_simulate(
        rows=200, shift="fare_inflation", with_labels=True, base_url=live_server.url, seed=13
    )
    assert again.versions == {"2": 200}
    code, report = drift_check()
    assert code == 42
    assert "cooldown" in report["retrain_note"]
    assert TrainingRun.objects.filter(trigger="drift").count() == 1
    assert DriftReport.objects.count() == 3
