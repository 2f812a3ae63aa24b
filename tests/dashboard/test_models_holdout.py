"""The frozen holdout on the Models and run pages: same rows for every version, and which rows."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.training.models import ModelVersion, PromotionRequest, ReferenceHoldout
from apps.training.services.holdouts import reference_holdout_freeze
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db

ROWS = [
    {"Pclass": 3, "Sex": "male", "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25},
    {"Pclass": 1, "Sex": "female", "Age": 38.0, "SibSp": 1, "Parch": 0, "Fare": 71.2833},
    {"Pclass": 3, "Sex": "female", "Age": None, "SibSp": 0, "Parch": 0, "Fare": 7.925},
]


def _scored(version: ModelVersion, holdout: ReferenceHoldout, auc: float) -> ModelVersion:
    version.holdout = holdout
    version.holdout_evaluation = {
        "auc": auc,
        "n_rows": holdout.n_rows,
        "rows_label": str(holdout),
        "training_rows_excluded": 12 if version.version > 1 else 0,
    }
    version.save(update_fields=["holdout", "holdout_evaluation"])
    return version


@pytest.fixture
def holdout(db: Any) -> ReferenceHoldout:
    data = f.data_version_create()
    rows = [{**row, "Embarked": "S", "Survived": i % 2} for i, row in enumerate(ROWS)]
    return reference_holdout_freeze(data_version=data, rows=rows)


@pytest.fixture
def waiting(holdout: ReferenceHoldout) -> ModelVersion:
    """v1 champion and v2 held back by the label guard, both scored on the holdout."""
    champion = _scored(f.model_version_create(1, auc=0.87), holdout, 0.8512)
    candidate = f.model_version_create(2, status=ModelVersion.Status.CANDIDATE, auc=0.93)
    _scored(candidate, holdout, 0.8023)
    request = f.pending_request(candidate, champion)
    candidate.gate_evidence["holdout"] = {
        "passed": False,
        "n_rows": holdout.n_rows,
        "data_version_id": holdout.data_version_id,
        "candidate_auc": 0.8023,
        "champion_auc": 0.8512,
        "auc_drop": 0.0489,
    }
    candidate.gate_evidence["label_guard"] = {
        "passed": False,
        "new_rows": 300,
        "reasons": ["FAIL label balance: the 300 new labelled rows are 63.3% Survived=1"],
    }
    candidate.save(update_fields=["gate_evidence"])
    request.note = "waits for a person (label guard): FAIL label balance: 63.3% Survived=1"
    request.save(update_fields=["note"])
    return candidate


def test_it_freezes_rows_with_content_keys_and_keeps_one_holdout_in_force(
    holdout: ReferenceHoldout,
) -> None:
    assert (holdout.n_rows, holdout.n_positives, holdout.is_active) == (3, 1, True)
    assert len(set(holdout.row_keys)) == 3
    assert holdout.rows[2]["Age"] is None and holdout.rows[0]["Age"] == 22.0
    again = reference_holdout_freeze(
        data_version=holdout.data_version, rows=holdout.rows, origin="operator", actor="olga"
    )
    holdout.refresh_from_db()
    assert holdout.is_active is None and again.is_active is True
    assert again.row_keys == holdout.row_keys


def test_it_refuses_a_holdout_without_both_classes(holdout: ReferenceHoldout) -> None:
    from apps.training.services.holdouts import HoldoutError

    with pytest.raises(HoldoutError, match="both classes"):
        reference_holdout_freeze(
            data_version=holdout.data_version,
            rows=[{**ROWS[0], "Embarked": "S", "Survived": 0}],
        )


def test_it_compares_every_version_on_the_same_named_rows(
    viewer_client: Client, waiting: ModelVersion, holdout: ReferenceHoldout
) -> None:
    page = viewer_client.get(reverse("dashboard:models"))
    body = page.content.decode()
    assert page.status_code == 200
    caption = f"the frozen holdout: 3 rows from data v{holdout.data_version_id}"
    assert caption in body
    table = body[body.index('id="version-table"') :]
    assert "0.8512" in table and "0.8023" in table  # both versions' holdout AUC
    assert "frozen holdout AUC" in body and "drop 0.0489" in body  # the decision card


def test_it_says_why_a_label_driven_candidate_waits(
    viewer_client: Client, waiting: ModelVersion
) -> None:
    body = viewer_client.get(reverse("dashboard:models")).content.decode()
    assert 'id="label-guard-2"' in body and "waits for a person" in body
    assert "FAIL label balance: the 300 new labelled rows are 63.3% Survived=1" in body
    assert PromotionRequest.objects.get(model_version=waiting).note in body


def test_it_marks_a_version_scored_on_an_older_holdout(
    viewer_client: Client, waiting: ModelVersion, holdout: ReferenceHoldout
) -> None:
    reference_holdout_freeze(data_version=holdout.data_version, rows=holdout.rows[::-1])
    body = viewer_client.get(reverse("dashboard:models")).content.decode()
    assert body.count("(older holdout)") == 2


def test_it_shows_the_holdout_score_on_the_run_page(
    viewer_client: Client, waiting: ModelVersion, holdout: ReferenceHoldout
) -> None:
    body = viewer_client.get(reverse("dashboard:run", args=[waiting.training_run_id])).content
    text = body.decode()
    assert "holdout AUC 0.8023" in text
    assert f"frozen holdout: 3 rows from data v{holdout.data_version_id}" in text
    assert "12 training rows equal to holdout rows excluded" in text
