"""POST /predict_titanic and /predict_titanic/batch through Django's full request stack."""

import json
import math
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.portable.scorer import PortableScorer
from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion
from tests.factories import SEED_EXAMPLE, model_version_install, scorer_dict

pytestmark = pytest.mark.django_db


def _post(api: APIClient, body: Any, path: str = "/predict_titanic", **extra: Any) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return api.post(path, raw, content_type="application/json", **extra)


def test_it_scores_the_seed_example_and_logs_it(api: APIClient, champion: ModelVersion) -> None:
    response = _post(api, SEED_EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    expected = PortableScorer.from_dict(scorer_dict()).predict_proba([SEED_EXAMPLE])[0]
    assert body["prob_survive"] == pytest.approx(expected, abs=1e-12)
    assert body["label"] == int(expected > 0.5)
    assert body["model_version"] == "1"
    row = InferenceLog.objects.get()
    assert str(row.request_id) == body["request_id"] == response["X-Request-ID"]
    assert (row.pclass, row.sex, row.age, row.sibsp, row.parch, row.fare, row.embarked) == (
        3,
        "male",
        22.0,
        1,
        0,
        7.25,
        "S",
    )
    assert (row.model_version, row.label, row.true_label) == (1, body["label"], None)
    assert row.prob_survive == body["prob_survive"]
    assert row.latency_ms > 0


def test_it_stores_no_personal_data() -> None:
    columns = {field.name for field in InferenceLog._meta.get_fields()}
    assert columns == {
        "id",
        "request_id",
        "created_at",
        "model_version",
        "batch_id",
        "pclass",
        "sex",
        "age",
        "sibsp",
        "parch",
        "fare",
        "embarked",
        "prob_survive",
        "label",
        "latency_ms",
        "true_label",
        "labelled_at",
    }


def test_it_treats_missing_optionals_as_missing(api: APIClient, champion: ModelVersion) -> None:
    body = {**SEED_EXAMPLE, "Age": None, "Fare": None, "Embarked": None}
    response = _post(api, body)
    assert response.status_code == 200
    row = InferenceLog.objects.get()
    assert (row.age, row.fare, row.embarked) == (None, None, None)
    with_surrogates = {**SEED_EXAMPLE, "Age": 28.0, "Fare": 14.5, "Embarked": "S"}
    assert response.json()["prob_survive"] == pytest.approx(
        PortableScorer.from_dict(scorer_dict()).predict_proba([with_surrogates])[0], abs=1e-12
    )


BAD_INPUTS = [
    ({"Pclass": 4}, "Pclass"),
    ({"Pclass": "3"}, "Pclass"),
    ({"Pclass": 3.0}, "Pclass"),
    ({"Pclass": True}, "Pclass"),
    ({"Sex": "robot"}, "Sex"),
    ({"Sex": 1}, "Sex"),
    ({"Sex": None}, "Sex"),
    ({"Age": -1}, "Age"),
    ({"Age": 120.5}, "Age"),
    ({"Age": "22"}, "Age"),
    ({"Age": False}, "Age"),
    ({"Fare": 10000.01}, "Fare"),
    ({"Fare": -0.5}, "Fare"),
    ({"SibSp": 21}, "SibSp"),
    ({"SibSp": 1.5}, "SibSp"),
    ({"Parch": -1}, "Parch"),
    ({"Embarked": "X"}, "Embarked"),
    ({"Embarked": 1}, "Embarked"),
    ({"Name": "Braund, Mr. Owen"}, "Name"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUTS)
def test_it_rejects_bad_fields_naming_them(
    api: APIClient, champion: ModelVersion, change: dict[str, Any], field: str
) -> None:
    response = _post(api, {**SEED_EXAMPLE, **change})
    assert response.status_code == 400
    assert field in response.json()
    assert InferenceLog.objects.count() == 0


def test_it_reports_every_bad_field_at_once(api: APIClient, champion: ModelVersion) -> None:
    body = {key: value for key, value in SEED_EXAMPLE.items() if key != "Sex"}
    response = _post(api, {**body, "Pclass": 9, "Cabin": "C85"})
    assert response.status_code == 400
    assert set(response.json()) == {"Pclass", "Sex", "Cabin"}


@pytest.mark.parametrize(
    "raw",
    [
        '{"Pclass": 3, "Sex": "male", "Age": NaN, "SibSp": 1, "Parch": 0}',
        '{"Pclass": 3, "Sex": "male", "Age": Infinity, "SibSp": 1, "Parch": 0}',
        "[1, 2, 3]",
        '{"Pclass": 3,',
        '"just a string"',
    ],
)
def test_it_rejects_malformed_json(api: APIClient, champion: ModelVersion, raw: str) -> None:
    assert _post(api, raw).status_code == 400
    assert InferenceLog.objects.count() == 0


def test_it_answers_415_405_and_413(api: APIClient, champion: ModelVersion) -> None:
    form = api.post(
        "/predict_titanic", "Pclass=3", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415
    assert api.get("/predict_titanic").status_code == 405
    assert api.put("/predict_titanic", SEED_EXAMPLE, format="json").status_code == 405
    padded = {**SEED_EXAMPLE, "Sex": "male" + " " * 10000}
    assert _post(api, padded).status_code == 413
    assert InferenceLog.objects.count() == 0


def test_it_replays_a_retried_request_id(api: APIClient, champion: ModelVersion) -> None:
    request_id = str(uuid.uuid4())
    first = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID=request_id)
    model_version_install(2, intercept=3.0)  # a new champion must not change a logged answer
    second = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID=request_id)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["request_id"] == request_id
    assert InferenceLog.objects.count() == 1


def test_it_ignores_a_request_id_that_is_not_a_uuid(api: APIClient, champion: ModelVersion) -> None:
    response = _post(api, SEED_EXAMPLE, HTTP_X_REQUEST_ID="'; DROP TABLE x;--")
    assert response.status_code == 200
    assert uuid.UUID(response.json()["request_id"])


def test_it_answers_503_without_a_champion(api: APIClient) -> None:
    response = _post(api, SEED_EXAMPLE)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "no champion" in response.json()["detail"]
    assert InferenceLog.objects.count() == 0


def test_it_serves_a_new_champion_without_restart(api: APIClient, champion: ModelVersion) -> None:
    assert _post(api, SEED_EXAMPLE).json()["model_version"] == "1"
    model_version_install(2, intercept=2.0)
    answer = _post(api, SEED_EXAMPLE).json()
    assert answer["model_version"] == "2"
    expected = PortableScorer.from_dict(scorer_dict(2.0)).predict_proba([SEED_EXAMPLE])[0]
    assert answer["prob_survive"] == pytest.approx(expected, abs=1e-12)


def test_it_refuses_a_tampered_scorer_and_serves_no_older_version(
    api: APIClient, champion: ModelVersion, settings: Any
) -> None:
    assert _post(api, SEED_EXAMPLE).status_code == 200
    second = model_version_install(2, intercept=2.0)
    path = settings.MODEL_CACHE_DIR / "titanic_spark_model-v2" / "scorer.json"
    path.write_text(path.read_text().replace("2.0", "9.0"))
    response = _post(api, SEED_EXAMPLE)
    # v1 is retired in the database: serving it would be serving a version nobody chose (issue 13).
    assert response.status_code == 503 and response["Retry-After"]
    assert "cannot load champion v2" in response.json()["detail"]
    health = api.get("/health").json()
    assert health["status"] == "degraded"
    assert f"cannot load champion v{second.version}" in health["last_error"]
    assert "sha256" in health["last_error"]


def test_it_scores_a_batch_with_one_row_each(api: APIClient, champion: ModelVersion) -> None:
    passengers = [{**SEED_EXAMPLE, "Age": float(age)} for age in range(1, 81)]
    response = _post(api, {"passengers": passengers}, "/predict_titanic/batch")
    assert response.status_code == 200
    body = response.json()
    assert len(body["predictions"]) == 80
    expected = PortableScorer.from_dict(scorer_dict()).predict_proba(passengers)
    got = [p["prob_survive"] for p in body["predictions"]]
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-12
    rows = InferenceLog.objects.filter(batch_id=body["batch_id"])
    assert rows.count() == 80
    assert {str(r.request_id) for r in rows} == {p["request_id"] for p in body["predictions"]}


def test_it_rejects_a_whole_batch_naming_the_item(api: APIClient, champion: ModelVersion) -> None:
    passengers = [SEED_EXAMPLE] * 5 + [{**SEED_EXAMPLE, "Pclass": 0}]
    response = _post(api, {"passengers": passengers}, "/predict_titanic/batch")
    assert response.status_code == 400
    assert response.json() == {
        "passengers": {"5": {"Pclass": ["Ensure this value is greater than or equal to 1."]}}
    }
    too_many = _post(api, {"passengers": [SEED_EXAMPLE] * 1001}, "/predict_titanic/batch")
    assert too_many.status_code == 400
    assert _post(api, {"passengers": []}, "/predict_titanic/batch").status_code == 400
    assert InferenceLog.objects.count() == 0


def test_it_throttles_per_client_in_the_shared_cache(
    api: APIClient, champion: ModelVersion, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rest_framework.settings import api_settings

    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "predict", "3/min")
    answers = [
        _post(api, SEED_EXAMPLE, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code for i in range(5)
    ]
    assert answers == [200, 200, 200, 429, 429]  # a forged header is not a new client
    limited = _post(api, SEED_EXAMPLE)
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert InferenceLog.objects.count() == 3
    other = APIClient(REMOTE_ADDR="127.0.0.2")
    assert _post(other, SEED_EXAMPLE).status_code == 200


def test_it_never_returns_nan(api: APIClient, champion: ModelVersion) -> None:
    body = _post(api, {**SEED_EXAMPLE, "Fare": 10000, "Age": 0}).json()
    assert math.isfinite(body["prob_survive"]) and 0 <= body["prob_survive"] <= 1


def test_it_counts_per_client_and_window_and_forgets_old_windows() -> None:
    from apps.serving.models import ThrottleCounter
    from apps.serving.services import throttle_count

    assert [throttle_count(ident="a", window=10) for _ in range(3)] == [1, 2, 3]
    assert throttle_count(ident="b", window=10) == 1
    assert throttle_count(ident="a", window=11) == 1
    assert throttle_count(ident="a", window=13) == 1  # windows before 12 are no longer needed
    assert sorted(ThrottleCounter.objects.values_list("ident", "window", "count")) == [("a", 13, 1)]
