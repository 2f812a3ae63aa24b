"""The API's answer for the seed's example equals Spark's own probability for the champion."""

from typing import Any

import mlflow.spark
import pytest
from rest_framework.test import APIClient

from apps.training.models import DataVersion, ModelVersion
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request
from tests.factories import SEED_EXAMPLE

pytestmark = [pytest.mark.spark, pytest.mark.django_db]


def test_it_matches_spark_for_the_seed_example(
    spark: Any, ingested: DataVersion, mlflow_store: str, api: APIClient
) -> None:
    run = training_run_execute(run_id=training_run_request(profile="quick", families="rf").pk)
    assert run.status == "succeeded", run.error
    champion = ModelVersion.objects.get(is_champion=True)
    answer = api.post("/predict_titanic", SEED_EXAMPLE, format="json").json()
    assert answer["model_version"] == str(champion.version)

    from apps.training.spark.pipeline import TYPES

    model = mlflow.spark.load_model(champion.model_uri)
    row = {name: SEED_EXAMPLE[name] for name in TYPES if name != "Survived"}
    frame = spark.createDataFrame([{**row, "Survived": 0}]).selectExpr(
        *(f"CAST({name} AS {kind}) AS {name}" for name, kind in TYPES.items())
    )
    spark_probability = model.transform(frame).first()["probability"][1]
    difference = abs(answer["prob_survive"] - spark_probability)
    print(
        f"seed example: API {answer['prob_survive']:.15f}, Spark {spark_probability:.15f}, "
        f"|diff| {difference:.2e}"
    )
    assert difference <= 1e-9
