"""The portable scorer must reproduce Spark's own probabilities on every row (DESIGN section 5)."""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.portable.exporter import write_scorer_file
from apps.portable.scorer import PortableScorer

pytestmark = pytest.mark.spark

TOLERANCE = 1e-9
INPUTS = ("Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked")
# The seed grids' corners: no regularisation, pure L1 (sparse coefficients), the largest forest
# and the longest, deepest boosting run.
CASES = [
    pytest.param("lr", {"regParam": 0.0}, id="lr-unregularised"),
    pytest.param("lr", {"regParam": 0.1, "elasticNetParam": 1.0}, id="lr-lasso"),
    pytest.param("rf", {"numTrees": 200, "maxDepth": 12, "maxBins": 64}, id="rf-200x12"),
    pytest.param("gbt", {"maxIter": 100, "maxDepth": 5, "stepSize": 0.1}, id="gbt-100x5"),
]
BASE = {"Pclass": 3, "Sex": "male", "Age": 22.0, "SibSp": 1, "Parch": 0, "Fare": 7.25}
# What the Kaggle file lacks: each kind of missing value, NaN, unseen and empty categories.
EDGE_ROWS: list[dict[str, Any]] = [
    {**BASE, "Age": None, "Embarked": "S"},
    {**BASE, "Fare": None, "Embarked": "C"},
    {**BASE, "Embarked": None},
    {**BASE, "Age": None, "Fare": None, "Embarked": None},
    {**BASE, "Age": math.nan, "Fare": math.nan, "Embarked": "Q"},
    {**BASE, "Sex": "X", "Embarked": "S"},
    {**BASE, "Sex": "female", "Embarked": "X"},
    {**BASE, "Sex": "X", "Embarked": "X", "Age": None},
    {**BASE, "Sex": None, "Embarked": ""},
    {**BASE, "Pclass": 1, "Sex": "female", "Age": 0.42, "Fare": 0.0, "Embarked": "C"},
    {**BASE, "Pclass": 1, "Age": 120.0, "SibSp": 20, "Parch": 20, "Fare": 10000.0, "Embarked": "Q"},
]
# No Kaggle row sits exactly on a split threshold, so these do, to pin down `x <= threshold`.
THRESHOLD_BASES: list[dict[str, Any]] = [
    {**BASE, "Embarked": "S"},
    {**BASE, "Pclass": 1, "Sex": "female", "SibSp": 0, "Embarked": "C"},
    {**BASE, "Sex": "female", "Parch": 2, "Embarked": "Q"},
]


def _as_frame(spark: Any, schema: Any, rows: list[dict[str, Any]]) -> Any:
    typed = [{"Survived": 0, **row, "label": 0.0} for row in rows]
    return spark.createDataFrame(
        [tuple(row[name] for name in schema.names) for row in typed], schema
    )


def _threshold_rows(scorer_file: Path) -> list[dict[str, Any]]:
    """Rows whose Age or Fare equals a continuous split threshold of the exported trees."""
    exported = json.loads(scorer_file.read_text())
    rows = []
    for column in ("Age", "Fare"):
        slot = exported["feature_names"].index(column)
        thresholds = {
            threshold
            for tree in exported["model"].get("trees", [])
            for feature, threshold, categorical in zip(
                tree["feature"], tree["threshold"], tree["categorical"], strict=True
            )
            if feature == slot and not categorical
        }
        rows += [{**base, column: t} for t in sorted(thresholds) for base in THRESHOLD_BASES]
    return rows


@pytest.fixture(scope="module")
def frames(spark: Any, titanic_csv: Path) -> tuple[Any, Any]:
    """The typed data set, and the same plus the edge rows (same schema) for scoring."""
    from apps.training.spark.pipeline import load_typed

    frame = load_typed(spark, titanic_csv)
    return frame, frame.unionByName(_as_frame(spark, frame.schema, EDGE_ROWS))


@pytest.mark.parametrize(("family", "params"), CASES)
def test_it_matches_spark_on_every_row(
    spark: Any, frames: tuple[Any, Any], tmp_path: Path, family: str, params: dict[str, Any]
) -> None:
    from apps.training.spark.pipeline import evaluation_split, feature_names, full_pipeline

    frame, scoring = frames
    model = full_pipeline(family, params).fit(evaluation_split(frame)[0])
    model.save(str(tmp_path / "model"))
    sha256 = write_scorer_file(tmp_path / "model", tmp_path / "scorer.json")
    scorer = PortableScorer.load(tmp_path / "scorer.json", sha256)
    on_thresholds = _threshold_rows(tmp_path / "scorer.json")
    if on_thresholds:
        scoring = scoring.unionByName(_as_frame(spark, frame.schema, on_thresholds))

    scored = model.transform(scoring).select(*INPUTS, "probability").collect()
    rows = [{name: row[name] for name in INPUTS} for row in scored]
    spark_p = np.array([row["probability"][1] for row in scored])
    batch_p = scorer.predict_proba(rows)
    single_p = np.array([scorer.predict_proba([row])[0] for row in rows[891:]])
    max_dp = float(np.max(np.abs(batch_p - spark_p)))
    print(f"\n{family} {params}: max |dp| = {max_dp:.3e} over {len(rows)} rows", end=" ")
    print(f"({len(on_thresholds)} on split thresholds)")

    labels = model.stages[2].labelsArray
    assert list(scorer.feature_names) == feature_names({"Sex": labels[0], "Embarked": labels[1]})
    assert scorer.family == family
    assert len(rows) == 891 + len(EDGE_ROWS) + len(on_thresholds)
    assert max_dp <= TOLERANCE
    assert np.max(np.abs(single_p - spark_p[891:])) <= TOLERANCE
