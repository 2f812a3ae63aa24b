"""Gate decisions explained where people look: version page, Models page, run page, overview."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from apps.training.models import ModelVersion
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

GAIN = (
    "FAIL AUC gain -0.0056 < min_auc_delta 0.0050 (candidate 0.8752 vs champion 0.8808, "
    "SE 0.0110, p=0.61)"
)


@pytest.fixture
def rejected(db: Any) -> ModelVersion:
    champion = f.model_version_create(1, auc=0.8808)
    evidence = {**f.evidence(0.8752, 0.8808, 1, passed=False), "n_rows": 163, "n_positives": 62}
    evidence["reasons"] = [GAIN, "PASS no per-class precision or recall drop above 0.0200"]
    version = f.model_version_create(
        2, status=ModelVersion.Status.REJECTED, auc=0.8990, gate_evidence=evidence
    )
    assert champion.is_champion
    return version


def test_it_shows_a_rejected_version_s_reasons_and_the_rows_its_aucs_came_from(
    approver_client: Client, rejected: ModelVersion
) -> None:
    body = approver_client.get(reverse("dashboard:model", args=[2])).content.decode()
    assert "rejected by the gate" in body and "against champion v1" in body
    assert escape(GAIN) in body and "PASS no per-class precision" in body
    assert (
        f"evaluation split of data v{rejected.data_version_id}, 163 rows (62 survivors)"
        " — both versions scored on the same rows"
    ) in body
    assert "-0.0056 ± 0.0260 (SE)" in body  # the AUC gain with its standard error
    assert "class 1 recall" in body
    assert "not scored on a frozen holdout yet" in body
    assert approver_client.get(reverse("dashboard:model", args=[9])).status_code == 404


def test_it_explains_each_version_on_the_models_page_and_offers_no_rollback_without_history(
    approver_client: Client, rejected: ModelVersion
) -> None:
    body = approver_client.get(reverse("dashboard:models")).content.decode()
    assert 'href="/models/2/"' in body and ">failed</a>" in body
    assert "FAIL AUC gain -0.0056" in body
    assert "on its own evaluation split" in body
    assert 'id="rollback-link"' not in body and "Nothing to roll back to" in body


def test_it_shows_the_decision_on_the_run_page_and_the_overview(
    approver_client: Client, rejected: ModelVersion
) -> None:
    run = approver_client.get(reverse("dashboard:run", args=[rejected.training_run_id]))
    assert escape(GAIN) in run.content.decode() and 'id="gate-v2"' in run.content.decode()
    overview = approver_client.get(reverse("dashboard:overview")).content.decode()
    assert 'id="latest-decision"' in overview and "rejected by the gate" in overview
    assert "FAIL AUC gain -0.0056" in overview


def test_it_says_when_a_passing_candidate_waits_for_a_person(
    approver_client: Client, db: Any
) -> None:
    champion = f.model_version_create(1, auc=0.87)
    candidate = f.model_version_create(
        2,
        status=ModelVersion.Status.CANDIDATE,
        auc=0.89,
        gate_evidence=f.evidence(0.89, 0.87, 1),
    )
    f.pending_request(candidate, champion)
    body = approver_client.get(reverse("dashboard:model", args=[2])).content.decode()
    assert "passed the gate, waiting for a person&#x27;s approval" in body
