"""Bounded driver memory: the Spark-aggregated profile equals the Python rule; 200k rows train."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyspark.sql.classic.dataframe import DataFrame  # the class Spark's local session returns

from apps.core import bins
from apps.core.features import FEATURES
from apps.training.models import ModelVersion
from apps.training.services.data_versions import data_version_ingest
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request
from apps.training.spark import profile
from apps.training.spark.pipeline import evaluation_split, load_typed
from apps.training.synthetic import synthetic_titanic_write


def test_it_picks_the_same_sorted_position_as_numpy_inverted_cdf() -> None:
    quantiles = np.arange(1, 10) / 10
    for n in [*range(1, 400), 712, 891, 160_037, 1_000_000, 7_999_999]:
        expected = np.quantile(np.arange(n), quantiles, method="inverted_cdf")
        found = [profile.inverted_cdf_rank(n, float(q)) for q in quantiles]
        assert found == [int(value) for value in expected], n


@pytest.mark.spark
def test_it_profiles_the_titanic_training_rows_exactly_like_the_python_rule(
    spark: Any, titanic_csv: Path
) -> None:
    train, _ = evaluation_split(load_typed(spark, titanic_csv))
    rows = [row.asDict() for row in train.select(*FEATURES).collect()]
    expected = bins.build_baseline(bins.rows_to_columns(rows))
    found = profile.feature_profile(train)
    assert found["n_rows"] == expected["n_rows"] == len(rows)
    assert list(found["features"]) == list(expected["features"])
    for name, want in expected["features"].items():
        got = found["features"][name]
        assert (got["kind"], got["labels"], got["counts"]) == (
            want["kind"],
            want["labels"],
            want["counts"],
        ), name
        assert got.get("levels") == want.get("levels"), name
        assert np.allclose(got.get("edges", []), want.get("edges", []), rtol=0, atol=1e-12), name
        assert np.allclose(got["proportions"], want["proportions"], rtol=0, atol=1e-12), name
    # Age has missing values and many ties, Fare a long tail: both have all nine deciles.
    assert len(found["features"]["Age"]["edges"]) == 9
    assert found["features"]["Age"]["counts"][-1] > 0


@pytest.mark.spark
def test_it_profiles_jittered_data_with_nan_and_no_present_values(spark: Any) -> None:
    rng = np.random.default_rng(5)
    values = [None if i % 7 == 0 else float(v) for i, v in enumerate(rng.normal(30, 9, 5003))]
    values[3] = float("nan")
    frame = spark.createDataFrame([(v, None) for v in values], "Age double, Fare double")
    found = profile.feature_profile(frame, features=("Age", "Fare"), numeric=("Age", "Fare"))
    expected = bins.build_baseline({"Age": values, "Fare": [None] * len(values)})
    assert found["features"]["Age"]["edges"] == expected["features"]["Age"]["edges"]
    assert found["features"]["Age"]["counts"] == expected["features"]["Age"]["counts"]
    assert found["features"]["Fare"] == expected["features"]["Fare"]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.django_db
def test_it_ingests_and_trains_200k_rows_collecting_only_bounded_rows(
    spark: Any,
    dvc_repo: Path,
    mlflow_store: str,
    titanic_bytes: bytes,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bound = 5_000
    settings.EVALUATION_MAX_ROWS = bound
    settings.AUTO_PROMOTE_TITANIC = True
    path = synthetic_titanic_write(
        source=titanic_bytes, rows=200_000, seed=7, path=tmp_path / "big.csv"
    )
    data_version_ingest(data=path.read_bytes(), source="synthetic")
    # Count the rows of every driver-side collect (the real collect runs; this only measures).
    collected: list[int] = []
    real_collect = DataFrame.collect

    def counting_collect(self: DataFrame) -> list[Any]:
        rows = real_collect(self)
        collected.append(len(rows))
        return rows

    monkeypatch.setattr(DataFrame, "collect", counting_collect)
    run = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert run.status == "succeeded", run.error
    assert collected and max(collected) <= bound
    assert profile.COLLECTED["evaluation"] <= bound
    version = ModelVersion.objects.get(training_run=run)
    assert 150_000 < version.feature_profile["n_rows"] < 170_000
    assert version.gate_evidence["n_rows"] <= bound
    assert version.metrics["eval_auc"] > 0.75
    assert version.status == "champion"
