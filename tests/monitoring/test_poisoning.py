"""Label poisoning end to end: flipped labels trigger a retrain whose candidate must wait.

Real parts: Spark (local), the configured database (run it on PostgreSQL with DATABASE_URL),
an MLflow store, live HTTP traffic against a live server, django-q2 in sync mode.
"""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django_q.conf import Conf
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.monitoring.simulation import sample_passengers, traffic_send, traffic_simulate
from apps.serving.models import InferenceLog
from apps.training.contract import parse_dataset
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)
from apps.training.services.data_versions import data_version_bytes
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request
from tests.factories import SEED_EXAMPLE, user_in_role
from tests.support.commands import drift_check

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _labeller_token() -> str:
    user_in_role("mallory", "labeller")  # an ordinary account with the label permission
    return Token.objects.create(user=User.objects.get(username="mallory")).key


def _flipped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "Survived": 1 - row["Survived"]} for row in rows]


def test_it_holds_back_a_candidate_trained_on_flipped_labels(
    spark: Any,
    ingested: DataVersion,
    mlflow_store: str,
    settings: Any,
    live_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Conf, "SYNC", True)  # the retrain runs here, as the worker would run it
    settings.AUTO_PROMOTE_TITANIC = True
    settings.RETRAIN_COOLDOWN_MINUTES = 60
    # The usual rules accept any candidate, so only the frozen holdout and the label guard stand
    # between poisoned labels and production.
    settings.PROMOTION_MIN_AUC_DELTA = -1.0
    settings.PROMOTION_MAX_CLASS_DROP = 1.0
    first = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert first.status == "succeeded", first.error
    assert ModelVersion.objects.get(is_champion=True).version == 1

    calm = traffic_simulate(
        rows=60, shift="none", with_labels=False, base_url=live_server.url, seed=11
    )
    assert calm.answered == 60
    assert drift_check()[0] == 0

    # 300 shifted predictions; the labeller answers each with the opposite of the truth.
    source = parse_dataset(data_version_bytes(ingested)).rows
    passengers = sample_passengers(source, 300, shift="older_passengers", seed=21)
    sent = traffic_send(
        _flipped(passengers), base_url=live_server.url, token=_labeller_token(), with_labels=True
    )
    assert (sent.answered, sent.labelled, dict(sent.errors)) == (300, 300, {})
    flipped_share = sum(1 - p["Survived"] for p in passengers) / 300
    assert InferenceLog.objects.filter(true_label=1).count() == round(flipped_share * 300)

    code, report = drift_check()
    assert (code, report["verdict"]) == (42, "critical"), report
    assert report["retrain_note"].startswith("retrain started")
    retrain = TrainingRun.objects.get(pk=report["retrain_run"])
    assert (retrain.trigger, retrain.status) == ("drift", "succeeded"), retrain.error

    # The retrain ran, but its candidate did not promote itself.
    candidate = ModelVersion.objects.get(version=2)
    assert candidate.status != "champion"
    assert ModelVersion.objects.get(is_champion=True).version == 1
    answer = APIClient().post("/predict_titanic", SEED_EXAMPLE, format="json").json()
    assert answer["model_version"] == "1"
    assert not PromotionEvent.objects.filter(action="promote", to_version=2).exists()

    # The reason names the label-balance rule (and the holdout, where it broke too).
    evidence = candidate.gate_evidence
    guard = evidence["label_guard"]
    assert guard["new_rows"] == 300 and not guard["passed"]
    assert guard["new_positive_share"] == pytest.approx(flipped_share)
    assert guard["reasons"][0].startswith("FAIL label balance")
    failed = [r for r in [*evidence["reasons"], *guard["reasons"]] if r.startswith("FAIL")]
    assert failed and all("holdout" in r or "label balance" in r for r in failed), failed
    assert evidence["holdout"]["n_rows"] == candidate.holdout.n_rows
    if candidate.status == "candidate":  # it passed the gate: it waits for a person
        waiting = PromotionRequest.objects.get(model_version=candidate)
        assert waiting.status == "pending"
        assert "label guard" in waiting.note and "label balance" in waiting.note
        event = PromotionEvent.objects.get(action="await", to_version=2)
        assert event.note == waiting.note
    else:  # the frozen holdout rule itself turned it down
        assert candidate.status == "rejected"
        assert not evidence["holdout"]["passed"]

    # Where the new rows came from.
    data = retrain.data_version
    assert (data.parent_id, data.labelled_rows_added, data.rows) == (ingested.pk, 300, 891 + 300)
    assert "300 labelled inference rows" in data.source
    assert data.positives - ingested.positives == round(flipped_share * 300)
    contributors = [
        (src["labeller"], src["rows"]) for src in data.sources if src["kind"] == "labels"
    ]
    assert contributors == [("mallory", 300)]  # the data version says who brought the rows
