"""Issue 14, build 5: each test sends the exact request that was answered wrongly before."""

import json
import logging
import uuid
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion
from tests.factories import SEED_EXAMPLE, model_version_install, user_in_role

pytestmark = pytest.mark.django_db

NESTED = "[" * 4000 + "]" * 4000  # 8 KB of brackets: RecursionError in json, a 500 before


def _post(api: APIClient, body: Any, path: str = "/predict_titanic", **extra: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return api.post(path, raw, content_type="application/json", **extra)


@pytest.fixture
def labeller(db: Any) -> APIClient:
    user = user_in_role("labeller", "labeller")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.parametrize("missing", ["Fare", "Age", "Embarked", "Pclass"])
def test_it_refuses_an_absent_key_even_where_null_is_allowed(
    api: APIClient, champion: ModelVersion, missing: str
) -> None:
    body = {key: value for key, value in SEED_EXAMPLE.items() if key != missing}
    response = _post(api, body)
    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}
    assert InferenceLog.objects.count() == 0
    assert _post(api, {**SEED_EXAMPLE, "Fare": None}).status_code == 200  # null is still fine


def test_it_answers_409_to_a_request_id_reused_with_another_body(
    api: APIClient, champion: ModelVersion
) -> None:
    request_id = str(uuid.uuid4())
    first = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID=request_id)
    other = {**SEED_EXAMPLE, "Pclass": 1, "Sex": "female"}
    conflict = _post(api, other, HTTP_X_REQUEST_ID=request_id)
    assert first.status_code == 200
    assert conflict.status_code == 409
    detail = conflict.json()["detail"]
    assert request_id in detail and "Pclass, Sex" in detail
    retry = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID=request_id)
    assert retry.status_code == 200 and retry.json() == first.json()  # exact retries replay
    assert list(InferenceLog.objects.values_list("pclass", "sex")) == [(3, "male")]


def test_it_throttles_batches_by_rows(
    api: APIClient, champion: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rest_framework.settings import api_settings

    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "predict", "30/min")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "predict_batch_rows", "1500/min")
    batch = {"passengers": [SEED_EXAMPLE] * 1000}
    first = _post(api, batch, "/predict_titanic/batch")
    second = _post(api, batch, "/predict_titanic/batch")
    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second["Retry-After"]) > 0
    assert InferenceLog.objects.count() == 1000
    small = _post(api, {"passengers": [SEED_EXAMPLE] * 400}, "/predict_titanic/batch")
    assert small.status_code == 429  # 1,000 + 1,000 rows already spent the 1,500-row budget


@pytest.mark.parametrize("path", ["/predict_titanic", "/predict_titanic/batch", "/feedback"])
def test_it_answers_400_to_deeply_nested_json(
    api: APIClient, labeller: APIClient, champion: ModelVersion, path: str
) -> None:
    client = labeller if path == "/feedback" else api
    response = _post(client, NESTED, path)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]
    shallow_but_deep = {**SEED_EXAMPLE, "Sex": json.loads("[" * 17 + "]" * 17)}
    assert _post(client, shallow_but_deep, path).status_code == 400


def test_it_answers_413_to_an_oversized_json_body(
    labeller: APIClient, champion: ModelVersion, settings: Any
) -> None:
    body = json.dumps({"request_id": str(uuid.uuid4()), "Survived": 1, "pad": "x" * 2_000_000})
    response = _post(labeller, body, "/feedback")
    assert response.status_code == 413


def test_it_keeps_database_errors_in_the_log(
    api: APIClient, champion: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    table = InferenceLog._meta.db_table
    with connection.cursor() as cursor:  # a real database error: the log table is gone
        cursor.execute(f"ALTER TABLE {table} RENAME TO gone_for_this_test")
    request_id = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR, logger="apps.serving.api"):
        response = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 503
    body = response.json()
    assert body["request_id"] == request_id and request_id in body["detail"]
    assert table not in response.content.decode() and "SQL" not in response.content.decode()
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert request_id in logged and "gone_for_this_test" not in response.content.decode()
    assert any(table in (r.exc_text or "") or table in str(r.exc_info) for r in caplog.records)


def test_it_keeps_loader_errors_in_the_log(
    api: APIClient, db: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model_version_install(1)
    path = settings.MODEL_CACHE_DIR / "titanic_spark_model-v1" / "scorer.json"
    path.write_text(path.read_text().replace('"intercept"', '"intercept" ', 1) + " ")
    with caplog.at_level(logging.ERROR, logger="apps.serving.api"):
        response = _post(api, SEED_EXAMPLE)
    assert response.status_code == 503  # a 500 before: the loader's error escaped
    assert "sha256" not in response.content.decode()
    assert response.json()["request_id"] in caplog.text
    assert InferenceLog.objects.count() == 0


def test_it_documents_what_feedback_returns(labeller: APIClient, api: APIClient) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    ok = schema["paths"]["/feedback"]["post"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"request_id", "Survived"}
