"""The machine API for data uploads and training runs (staff tokens)."""

from pathlib import Path
from typing import Any

import pytest
from django_q.models import OrmQ
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.training.models import DataVersion, TrainingRun
from tests.factories import user_in_role

pytestmark = pytest.mark.django_db


def _client(staff: bool) -> APIClient:
    # "staff" here means an operator: staff status alone opens nothing (issue 12).
    user = user_in_role(f"u{staff}", "operator" if staff else None, is_staff=staff)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_it_ingests_an_uploaded_csv(dvc_repo: Path, titanic_bytes: bytes) -> None:
    admin = _client(staff=True)
    created = admin.post(
        "/api/data-versions?name=kaggle.csv", titanic_bytes, content_type="text/csv"
    )
    assert created.status_code == 201
    assert created.json()["rows"] == 891 and created.json()["is_current"]
    again = admin.post("/api/data-versions", titanic_bytes, content_type="text/csv")
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    broken = titanic_bytes.replace(b"\n1,0,3,", b"\n1,0,7,", 1)
    rejected = admin.post("/api/data-versions", broken, content_type="text/csv")
    assert rejected.status_code == 400
    assert "row 1, column Pclass: is '7'" in rejected.json()["detail"]
    assert DataVersion.objects.count() == 1
    assert (
        _client(staff=False)
        .post("/api/data-versions", titanic_bytes, content_type="text/csv")
        .status_code
        == 403
    )


def test_it_queues_one_training_run_at_a_time(ingested: DataVersion) -> None:
    admin = _client(staff=True)
    queued = admin.post(
        "/api/training-runs", {"profile": "quick", "families": ["gbt", "lr"]}, format="json"
    )
    assert queued.status_code == 202
    body = queued.json()
    assert (body["status"], body["families"], body["progress_total"]) == (
        "queued",
        ["lr", "gbt"],
        3,
    )
    assert OrmQ.objects.count() == 1  # handed to the worker by dotted path
    second = admin.post("/api/training-runs", {}, format="json")
    assert second.status_code == 409
    assert f"training run {body['id']} is queued" in second.json()["detail"]
    detail = admin.get(f"/api/training-runs/{body['id']}").json()
    assert (detail["id"], detail["model_version"], detail["data_version"]) == (
        body["id"],
        None,
        ingested.pk,
    )
    assert admin.get("/api/training-runs/999").status_code == 404
    bad = admin.post("/api/training-runs", {"families": ["svm"]}, format="json")
    assert bad.status_code == 400
    assert TrainingRun.objects.get().trigger == "api"


def test_it_refuses_a_repeat_of_the_same_data_and_parameters_unless_forced(
    ingested: DataVersion,
) -> None:
    admin = _client(staff=True)
    request = {"profile": "quick", "families": ["lr"]}
    first = admin.post("/api/training-runs", request, format="json").json()
    TrainingRun.objects.filter(pk=first["id"]).update(status="succeeded", active=None)
    repeat = admin.post("/api/training-runs", request, format="json")
    assert repeat.status_code == 409
    assert (
        f"data v{ingested.pk} was already trained with these parameters" in repeat.json()["detail"]
    )
    assert '"force": true' in repeat.json()["detail"]
    other = admin.post(
        "/api/training-runs", {"profile": "quick", "families": ["rf"]}, format="json"
    )
    assert other.status_code == 202  # other parameters are not a repeat
    TrainingRun.objects.filter(pk=other.json()["id"]).update(status="failed", active=None)
    forced = admin.post("/api/training-runs", {**request, "force": True}, format="json")
    assert forced.status_code == 202
    assert TrainingRun.objects.count() == 3


def test_it_refuses_non_staff(ingested: Any) -> None:
    assert _client(staff=False).post("/api/training-runs", {}, format="json").status_code == 403
    assert APIClient().post("/api/training-runs", {}, format="json").status_code in (401, 403)


def test_it_refuses_unknown_keys_naming_them(ingested: DataVersion) -> None:
    response = _client(staff=True).post(
        "/api/training-runs", {"profile": "quick", "evil": 1}, format="json"
    )
    assert response.status_code == 400  # accepted before issue 14
    assert response.json() == {"evil": ["Unknown field: not part of the request schema."]}
    assert TrainingRun.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"", "text/csv", 400),  # a 500 before: DRF hands an empty form dict, not bytes
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "text/csv", 400),
        (b"\xff\xfe\xfa not utf-8", "text/csv", 400),
        (b'{"rows": []}', "application/json", 415),
    ],
)
def test_it_refuses_empty_and_non_csv_uploads(
    dvc_repo: Path, body: bytes, content_type: str, code: int
) -> None:
    response = _client(staff=True).post("/api/data-versions", body, content_type=content_type)
    assert response.status_code == code
    assert response.json()["detail"]
    assert DataVersion.objects.count() == 0
