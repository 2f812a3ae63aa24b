"""Clients of the seed's service read `prediction`: present, equal to `label`, documented."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.serving.loader import champion_cache
from tests.factories import SEED_EXAMPLE, model_version_install

pytestmark = pytest.mark.django_db


@pytest.fixture
def champion(settings: Any, tmp_path: Path) -> Iterator[Any]:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.SERVING_VERSION_CHECK_SECONDS = 0.0
    champion_cache.reset()
    yield model_version_install(1)
    champion_cache.reset()


def test_it_answers_with_prediction_equal_to_label(champion: Any) -> None:
    api = APIClient()
    women = {**SEED_EXAMPLE, "Sex": "female", "Pclass": 1, "Age": 8}
    for body in (SEED_EXAMPLE, women):
        answer = api.post("/predict_titanic", body, format="json").json()
        assert answer["prediction"] == answer["label"]
    assert {0, 1} == {
        api.post("/predict_titanic", b, format="json").json()["prediction"]
        for b in (SEED_EXAMPLE, women)
    }
    batch = api.post(
        "/predict_titanic/batch", {"passengers": [SEED_EXAMPLE, women]}, format="json"
    ).json()
    assert [p["prediction"] for p in batch["predictions"]] == [
        p["label"] for p in batch["predictions"]
    ]


def test_it_documents_prediction_in_the_schema() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    output = schema["components"]["schemas"]["PredictionOutput"]["properties"]
    assert "same value as `label`" in output["prediction"]["description"]
    assert output["prediction"]["readOnly"] is True
