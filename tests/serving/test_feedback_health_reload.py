"""POST /feedback, GET /health, POST /reload and the OpenAPI schema."""

import io
import json
import time
import uuid
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core.features import FEATURES
from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion
from tests.factories import SEED_EXAMPLE, user_in_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(db: Any) -> APIClient:
    """A client authenticated with a token, as scripts and other services are."""
    user = user_in_role("labeller", "labeller")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def staff(db: Any) -> APIClient:
    user = user_in_role("ops", "operator", is_staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _predict(api: APIClient) -> str:
    response = api.post("/predict_titanic", SEED_EXAMPLE, format="json")
    assert response.status_code == 200
    return response.json()["request_id"]


def test_it_attaches_a_true_label_once(
    api: APIClient, machine: APIClient, champion: ModelVersion
) -> None:
    request_id = _predict(api)
    first = machine.post("/feedback", {"request_id": request_id, "Survived": 1}, format="json")
    assert first.status_code == 200
    row = InferenceLog.objects.get(request_id=request_id)
    assert (row.true_label, row.labelled_at is not None) == (1, True)
    again = machine.post("/feedback", {"request_id": request_id, "Survived": 0}, format="json")
    assert again.status_code == 409
    assert "already has true label 1" in again.json()["detail"]
    assert InferenceLog.objects.get(request_id=request_id).true_label == 1


def test_it_checks_feedback_input_and_identity(
    api: APIClient, machine: APIClient, champion: ModelVersion
) -> None:
    request_id = _predict(api)
    body = {"request_id": request_id, "Survived": 1}
    assert api.post("/feedback", body, format="json").status_code in (401, 403)
    unknown = machine.post("/feedback", {**body, "request_id": str(uuid.uuid4())}, format="json")
    assert unknown.status_code == 404
    for bad in (
        {**body, "Survived": 2},
        {**body, "Survived": "1"},
        {**body, "x": 1},
        {"request_id": "nope", "Survived": 1},
    ):
        assert machine.post("/feedback", bad, format="json").status_code == 400
    assert InferenceLog.objects.get().true_label is None


def test_it_reports_health(
    api: APIClient, champion: ModelVersion, mlflow_ui_answering: list[str]
) -> None:
    body = api.get("/health").json()
    assert body == {
        "status": "ok",
        "live": True,
        "ready": True,
        "model_loaded": True,
        "model_version": "1",
        "last_error": "",
        "database": "ok",
        "mlflow_ui": {"url": body["mlflow_ui"]["url"], "answers": True, "error": ""},
    }


def test_it_stays_ready_and_ok_while_the_mlflow_ui_is_silent(
    api: APIClient, champion: ModelVersion, mlflow_ui_silent: str
) -> None:
    response = api.get("/health")
    body = response.json()
    assert response.status_code == 200 and (body["status"], body["ready"]) == ("ok", True)
    assert body["mlflow_ui"]["url"] == mlflow_ui_silent and not body["mlflow_ui"]["answers"]
    assert api.get("/health/ready").json()["mlflow_ui"]["answers"] is False


def test_it_reports_not_ready_without_a_champion(api: APIClient) -> None:
    body = api.get("/health").json()
    assert (body["status"], body["ready"], body["model_loaded"]) == ("degraded", False, False)
    assert "no champion" in body["last_error"]


def test_it_requires_staff_and_csrf_for_reload(
    api: APIClient, machine: APIClient, staff: APIClient, champion: ModelVersion
) -> None:
    assert api.post("/reload").status_code in (401, 403)
    assert machine.post("/reload").status_code == 403  # a token, but not staff
    assert staff.post("/reload").status_code == 403  # session without the CSRF token


def test_it_keeps_serving_when_the_registry_is_unreachable(
    api: APIClient, champion: ModelVersion, settings: Any
) -> None:
    staff_user = user_in_role("ops", "operator", is_staff=True)
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    assert _predict(api)
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens on the discard port
    started = time.monotonic()
    response = admin.post("/reload")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 10, f"/reload took {elapsed:.1f} s"
    assert "still serving v1" in response.json()["detail"]
    assert _predict(api)
    health = api.get("/health").json()
    assert health["model_version"] == "1" and health["status"] == "degraded"
    assert "reload failed" in health["last_error"]
    print(f"/reload with an unreachable registry answered 503 in {elapsed:.2f} s")


def test_it_publishes_a_valid_strict_schema(api: APIClient) -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    passenger = schema["components"]["schemas"]["PassengerRequest"]
    assert passenger["additionalProperties"] is False
    # Issue 14: every key is required; null is allowed where the contract allows it.
    assert set(passenger["required"]) == set(FEATURES)
    assert {name for name, p in passenger["properties"].items() if p.get("nullable")} == {
        "Age",
        "Fare",
        "Embarked",
    }
    body = schema["paths"]["/predict_titanic"]["post"]["requestBody"]
    assert "PassengerRequest" in json.dumps(body)
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()  # assets are served locally, no network needed
