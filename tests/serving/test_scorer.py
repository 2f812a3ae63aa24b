"""Portable scorer and exporter, checked against hand-computed values (no Spark)."""

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apps.portable.exporter import export_pipeline_model, write_scorer_file
from apps.portable.scorer import PortableScorer, ScorerChecksumError, ScorerFormatError
from tests.factories import NAMES

PREPROCESSING: dict[str, Any] = {
    "assembly": [
        *({"column": name, "kind": "numeric"} for name in NAMES[:5]),
        {"column": "Sex", "kind": "onehot"},
        {"column": "Embarked", "kind": "onehot"},
    ],
    "fill": {"Embarked": "S"},
    "surrogates": {"Age": 28.0, "Fare": 14.5},
    "indexer_labels": {"Sex": ["male", "female"], "Embarked": ["S", "C", "Q"]},
    "onehot_sizes": {"Sex": 2, "Embarked": 3},
    "scaler": None,
}
# Scaled slots come out as whole numbers for the rows below; Embarked=Q had zero spread.
SCALER = {
    "mean": [2.0, 30.0, 0.0, 0.0, 32.0, 0.5, 0.5, 0.0, 0.0, 0.0],
    "std": [1.0, 10.0, 1.0, 1.0, 16.0, 0.5, 0.5, 1.0, 1.0, 0.0],
}
COEFFICIENTS = [-1.0, -0.5, -0.25, 0.1, 0.2, -1.5, 0.0, 0.3, 0.6, 5.0]
MAN = {
    "Pclass": 3,
    "Sex": "male",
    "Age": 40.0,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 16.0,
    "Embarked": "C",
}
GIRL = {
    "Pclass": 1,
    "Sex": "female",
    "Age": 10.0,
    "SibSp": 0,
    "Parch": 2,
    "Fare": 80.0,
    "Embarked": "S",
}


def _sigmoid(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-margin))


def _lr_dict() -> dict[str, Any]:
    return {
        "format": "titanic-ops-scorer/1",
        "family": "lr",
        "feature_names": NAMES,
        "preprocessing": {**PREPROCESSING, "scaler": SCALER},
        "model": {"coefficients": COEFFICIENTS, "intercept": 0.5},
    }


def _tree(nodes: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Nodes as (feature, threshold or left-category list, left, right, leaf value, count)."""
    keys = ("feature", "threshold", "categorical", "left_categories", "left", "right")
    tree: dict[str, list[Any]] = {key: [] for key in (*keys, "leaf_value", "leaf_count")}
    for feature, split, left, right, value, count in nodes:
        categorical = isinstance(split, list)
        row = (feature, 0.0 if categorical else split, categorical, split if categorical else [])
        for key, item in zip(keys, (*row, left, right), strict=True):
            tree[key].append(item)
        tree["leaf_value"].append(value)
        tree["leaf_count"].append(count)
    return tree


def _trees_dict(
    family: str, leaves_a: list[float], leaves_b: list[float], men_counted: float = 10.0
) -> dict[str, Any]:
    # Tree A: men (Sex=male in {1}) left to leaf 1; others split on Age <= 10 into leaves 3 and 4.
    tree_a = _tree(
        [
            (5, [1], 1, 2, 0.0, 0.0),
            (-1, 0.0, -1, -1, leaves_a[0], men_counted),
            (1, 10.0, 3, 4, 0.0, 0.0),
            (-1, 0.0, -1, -1, leaves_a[1], 10.0),
            (-1, 0.0, -1, -1, leaves_a[2], 5.0),
        ]
    )
    # Tree B: Pclass <= 2.5 left.
    tree_b = _tree(
        [
            (0, 2.5, 1, 2, 0.0, 0.0),
            (-1, 0.0, -1, -1, leaves_b[0], 4.0),
            (-1, 0.0, -1, -1, leaves_b[1], 6.0),
        ]
    )
    model: dict[str, Any] = {"trees": [tree_a, tree_b]}
    if family == "gbt":
        model["tree_weights"] = [1.0, 0.1]
        for tree in model["trees"]:
            del tree["leaf_count"]
    return {
        "format": "titanic-ops-scorer/1",
        "family": family,
        "feature_names": NAMES,
        "preprocessing": PREPROCESSING,
        "model": model,
    }


def test_it_scores_logistic_regression_on_scaled_features() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())
    # MAN scales to Pclass 1, Age 1, SibSp 1, Parch 0, Fare -1, male 1, female -1, S 0, C 1, Q 0.
    man = 0.5 - 1.0 - 0.5 - 0.25 + 0.0 - 0.2 - 1.5 + 0.0 + 0.0 + 0.6 + 0.0
    # GIRL scales to Pclass -1, Age -2, Parch 2, Fare 3, male -1, S 1.
    girl = 0.5 + 1.0 + 1.0 + 0.2 + 0.6 + 1.5 + 0.3

    probabilities = scorer.predict_proba([MAN, GIRL])

    assert probabilities.tolist() == pytest.approx([_sigmoid(man), _sigmoid(girl)], abs=1e-15)
    assert scorer.family == "lr"
    assert scorer.feature_names == tuple(NAMES)


def test_it_ignores_a_slot_whose_training_spread_was_zero() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())

    queenstown, cherbourg = scorer.predict_proba([{**MAN, "Embarked": "Q"}, MAN])

    # Q's coefficient (5.0) never counts; only losing C's 0.6 changes the margin.
    assert queenstown == pytest.approx(_sigmoid(-2.35 - 0.6), abs=1e-15)
    assert cherbourg == pytest.approx(_sigmoid(-2.35), abs=1e-15)


def test_it_scores_a_forest_as_the_mean_of_leaf_class_shares() -> None:
    scorer = PortableScorer.from_dict(_trees_dict("rf", [0.2, 0.9, 0.6], [0.7, 0.3]))
    older = {**GIRL, "Age": 30.0, "Pclass": 3}

    probabilities = scorer.predict_proba([MAN, GIRL, older])

    assert probabilities.tolist() == pytest.approx([0.25, 0.8, 0.45], abs=1e-15)


def test_it_sends_a_value_equal_to_the_threshold_left() -> None:
    scorer = PortableScorer.from_dict(_trees_dict("rf", [0.2, 0.9, 0.6], [0.7, 0.3]))

    at_threshold, just_above = scorer.predict_proba([GIRL, {**GIRL, "Age": 10.000001}])

    assert at_threshold == pytest.approx((0.9 + 0.7) / 2, abs=1e-15)
    assert just_above == pytest.approx((0.6 + 0.7) / 2, abs=1e-15)


def test_it_leaves_empty_leaves_out_of_the_forest_mean() -> None:
    scorer = PortableScorer.from_dict(
        _trees_dict("rf", [0.0, 0.9, 0.6], [0.7, 0.3], men_counted=0.0)
    )

    (probability,) = scorer.predict_proba([MAN])

    assert probability == pytest.approx(0.3, abs=1e-15)


def test_it_scores_boosted_trees_through_the_logistic_link() -> None:
    scorer = PortableScorer.from_dict(_trees_dict("gbt", [-0.5, 0.8, 0.1], [0.4, -0.4]))

    probabilities = scorer.predict_proba([MAN, GIRL])

    expected = [1 / (1 + math.exp(-2 * (-0.5 - 0.04))), 1 / (1 + math.exp(-2 * (0.8 + 0.04)))]
    assert probabilities.tolist() == pytest.approx(expected, abs=1e-15)


def test_it_replaces_missing_and_nan_numbers_with_the_surrogates() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())
    rows = [{**MAN, "Age": None, "Fare": None}, {**MAN, "Age": math.nan, "Fare": math.nan}]

    features = scorer.assemble(rows)
    probabilities = scorer.predict_proba([*rows, {**MAN, "Age": 28.0, "Fare": 14.5}])

    assert features[:, 1].tolist() == [28.0, 28.0]
    assert features[:, 4].tolist() == [14.5, 14.5]
    assert probabilities[0] == probabilities[1] == probabilities[2]


def test_it_fills_a_missing_port_with_the_mode() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())

    features = scorer.assemble([{**MAN, "Embarked": None}])

    assert features[0, 7:].tolist() == [1.0, 0.0, 0.0]


def test_it_gives_unseen_categories_an_all_zero_block() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())
    stranger = {**MAN, "Sex": "X", "Embarked": "X"}

    features = scorer.assemble([stranger, {**MAN, "Sex": None, "Embarked": ""}])
    (probability,) = scorer.predict_proba([stranger])

    assert features[:, 5:].tolist() == [[0.0] * 5, [0.0] * 5]
    # Zero one-hot slots scale to male -1, female -1, C 0: -1.5 becomes +1.5 and C's 0.6 goes.
    assert probability == pytest.approx(_sigmoid(-2.35 + 3.0 - 0.6), abs=1e-15)


def test_it_requires_numbers_that_have_no_surrogate() -> None:
    scorer = PortableScorer.from_dict(_lr_dict())

    with pytest.raises(ValueError, match="row 0: Pclass is required"):
        scorer.predict_proba([{**MAN, "Pclass": None}])


def test_it_refuses_an_unknown_format() -> None:
    with pytest.raises(ScorerFormatError, match="unknown scorer format 'other/9'"):
        PortableScorer.from_dict({**_lr_dict(), "format": "other/9"})


def test_it_loads_a_file_whose_checksum_matches(tmp_path: Path) -> None:
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(_lr_dict()))

    scorer = PortableScorer.load(path, hashlib.sha256(path.read_bytes()).hexdigest())

    assert scorer.predict_proba([MAN])[0] == pytest.approx(_sigmoid(-2.35), abs=1e-15)


def test_it_refuses_a_file_whose_checksum_differs(tmp_path: Path) -> None:
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(_lr_dict()))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()

    with pytest.raises(ScorerChecksumError) as raised:
        PortableScorer.load(path, "0" * 64)

    assert str(path) in str(raised.value)
    assert actual in str(raised.value)
    assert "0" * 64 in str(raised.value)


# A saved PipelineModel as Spark lays it out, written with pyarrow so no JVM is needed.
STAGE = "org.apache.spark.ml"
NUMERIC_INPUTS = ["Pclass", "Age_filled", "SibSp", "Parch", "Fare_filled"]
SPLIT_FIELDS = ("featureIndex", "leftCategoriesOrThreshold", "numCategories")


def _save_stage(root: Path, index: int, cls: str, params: dict[str, Any], **folders: Any) -> str:
    uid = f"{cls.rsplit('.', 1)[-1]}_{index:012x}"
    path = root / "stages" / f"{index}_{uid}"
    (path / "metadata").mkdir(parents=True)
    metadata = {"class": cls, "uid": uid, "sparkVersion": "4.3.0", "paramMap": params}
    (path / "metadata" / "part-00000").write_text(json.dumps(metadata))
    for folder, rows in folders.items():
        (path / folder).mkdir()
        pq.write_table(pa.Table.from_pylist(rows), path / folder / "part-00000-x.snappy.parquet")
    return uid


def _dense(values: list[float]) -> dict[str, Any]:
    return {"type": 1, "size": None, "indices": None, "values": values}


def _save_pipeline(root: Path, family: str, age_surrogate: float = 28.0) -> Path:
    assembled = "features_unscaled" if family == "lr" else "features"
    pairs = {"inputCols": ["Sex", "Embarked_filled"], "outputCols": ["Sex_index", "Embarked_index"]}
    stages: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (
            "apps.training.spark.stages.ModeImputerModel",
            {"inputCol": "Embarked", "outputCol": "Embarked_filled", "fillValue": "S"},
            {},
        ),
        (
            f"{STAGE}.feature.ImputerModel",
            {"inputCols": ["Age", "Fare"], "outputCols": ["Age_filled", "Fare_filled"]},
            {"data": [{"Age": age_surrogate, "Fare": 14.5}]},
        ),
        (
            f"{STAGE}.feature.StringIndexerModel",
            {**pairs, "handleInvalid": "keep"},
            {"data": [{"labelsArray": [["male", "female"], ["S", "C", "Q"]]}]},
        ),
        (
            f"{STAGE}.feature.OneHotEncoderModel",
            {
                "inputCols": ["Sex_index", "Embarked_index"],
                "outputCols": ["Sex_onehot", "Embarked_onehot"],
                "dropLast": True,
            },
            {"data": [{"categorySizes": [3, 4]}]},
        ),
        (
            f"{STAGE}.feature.VectorAssembler",
            {
                "inputCols": [*NUMERIC_INPUTS, "Sex_onehot", "Embarked_onehot"],
                "outputCol": assembled,
            },
            {},
        ),
        *_model_stages(family, assembled),
    ]
    uids = [_save_stage(root, i, *stage[:2], **stage[2]) for i, stage in enumerate(stages)]
    (root / "metadata").mkdir()
    pipeline = {"class": "pyspark.ml.pipeline.PipelineModel", "paramMap": {"stageUids": uids}}
    (root / "metadata" / "part-00000").write_text(json.dumps(pipeline))
    return root


def _model_stages(family: str, assembled: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    if family == "lr":
        scaler = {"mean": _dense(SCALER["mean"]), "std": _dense(SCALER["std"])}
        # Spark stores an L1 fit's coefficients as a transposed (row-major) sparse matrix.
        coefficients = {
            "type": 0,
            "numRows": 1,
            "numCols": 10,
            "colPtrs": [0, 3],
            "rowIndices": [0, 5, 9],
            "values": [-1.0, -1.5, 5.0],
            "isTransposed": True,
        }
        lr = {
            "numClasses": 2,
            "numFeatures": 10,
            "interceptVector": _dense([0.5]),
            "coefficientMatrix": coefficients,
            "isMultinomial": False,
        }
        return [
            (
                f"{STAGE}.feature.StandardScalerModel",
                {"inputCol": assembled, "outputCol": "features", "withMean": True},
                {"data": [scaler]},
            ),
            (f"{STAGE}.classification.LogisticRegressionModel", {}, {"data": [lr]}),
        ]
    leaf = (-1, [], -1)
    nodes = [
        (0, 0.0, 1, 2, (5, [1.0], 2)),
        (1, -0.5, -1, -1, leaf),
        (2, 0.0, 3, 4, (1, [10.0], -1)),
        (3, 0.8, -1, -1, leaf),
        (4, 0.1, -1, -1, leaf),
    ]
    rows = [
        {
            "treeID": 0,
            "nodeData": {
                "id": node_id,
                "prediction": prediction,
                "impurityStats": [1.0, 2.0, 3.0],
                "leftChild": left,
                "rightChild": right,
                "split": dict(zip(SPLIT_FIELDS, split, strict=True)),
            },
        }
        for node_id, prediction, left, right, split in nodes
    ]
    weights = [{"_1": 0, "_2": "{}", "_3": 0.5}]
    return [
        (
            f"{STAGE}.classification.GBTClassificationModel",
            {"maxIter": 1},
            {"data": rows, "treesMetadata": weights},
        )
    ]


def test_it_exports_a_saved_logistic_regression_pipeline(tmp_path: Path) -> None:
    exported = export_pipeline_model(_save_pipeline(tmp_path / "model", "lr"))
    scorer = PortableScorer.from_dict(exported)

    (probability,) = scorer.predict_proba([{**MAN, "Embarked": "Q"}])

    assert exported["feature_names"] == NAMES
    assert exported["preprocessing"]["fill"] == {"Embarked": "S"}
    assert exported["preprocessing"]["surrogates"] == {"Age": 28.0, "Fare": 14.5}
    assert exported["model"]["coefficients"] == [-1.0, 0, 0, 0, 0, -1.5, 0, 0, 0, 5.0]
    # Scaled Pclass 1 and male 1 count; Q's zero spread cancels its coefficient.
    assert probability == pytest.approx(_sigmoid(0.5 - 1.0 - 1.5), abs=1e-15)


def test_it_exports_saved_trees_as_flat_arrays(tmp_path: Path) -> None:
    exported = export_pipeline_model(_save_pipeline(tmp_path / "model", "gbt"))
    scorer = PortableScorer.from_dict(exported)

    probabilities = scorer.predict_proba([MAN, GIRL])

    (tree,) = exported["model"]["trees"]
    assert exported["model"]["tree_weights"] == [0.5]
    assert tree["feature"] == [5, -1, 1, -1, -1]
    assert tree["categorical"] == [True, False, False, False, False]
    assert tree["left_categories"] == [[1], [], [], [], []]
    assert tree["threshold"][2] == 10.0
    assert tree["leaf_value"] == [0.0, -0.5, 0.0, 0.8, 0.1]
    expected = [1 / (1 + math.exp(2 * 0.5 * 0.5)), 1 / (1 + math.exp(-2 * 0.5 * 0.8))]
    assert probabilities.tolist() == pytest.approx(expected, abs=1e-15)


def test_it_writes_canonical_json_without_nan_tokens(tmp_path: Path) -> None:
    out = tmp_path / "scorer.json"

    sha256 = write_scorer_file(_save_pipeline(tmp_path / "model", "gbt"), out)

    text = out.read_text()
    assert "NaN" not in text
    assert "Infinity" not in text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert sha256 == hashlib.sha256(out.read_bytes()).hexdigest()


def test_it_refuses_to_write_a_non_finite_value(tmp_path: Path) -> None:
    out = tmp_path / "scorer.json"
    model_dir = _save_pipeline(tmp_path / "model", "lr", age_surrogate=math.nan)

    with pytest.raises(ValueError, match="non-finite"):
        write_scorer_file(model_dir, out)

    assert not out.exists()


def test_it_rejects_an_unsupported_stage(tmp_path: Path) -> None:
    model_dir = _save_pipeline(tmp_path / "model", "gbt")
    (metadata,) = model_dir.glob("stages/4_*/metadata/part-00000")
    metadata.write_text(metadata.read_text().replace("VectorAssembler", "Bucketizer"))

    with pytest.raises(
        ValueError, match=r"unsupported stage org\.apache\.spark\.ml\.feature\.Buck"
    ):
        export_pipeline_model(model_dir)


def test_it_keeps_pyspark_and_django_out_of_the_scoring_path() -> None:
    code = (
        "import sys, apps.portable.scorer, apps.portable.exporter; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'django')))"
    )
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
