"""Typed loading, the fixed evaluation split, preprocessing stages and estimators."""

from pathlib import Path
from typing import Any

from pyspark.ml import Estimator, Pipeline
from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from apps.training.results import Params
from apps.training.spark.stages import ModeImputer

FAMILIES = ("lr", "rf", "gbt")
LABEL = "label"
FEATURES = "features"
EVAL_SPLIT = (0.8, 0.2)
SEED = 42
TYPES = {
    "Survived": "int",
    "Pclass": "int",
    "Sex": "string",
    "Age": "double",
    "SibSp": "int",
    "Parch": "int",
    "Fare": "double",
    "Embarked": "string",
}
# Assembled vector layout; the one-hot blocks follow the indexers' frequency order.
NUMERIC_INPUTS = ("Pclass", "Age_filled", "SibSp", "Parch", "Fare_filled")
NUMERIC_NAMES = ("Pclass", "Age", "SibSp", "Parch", "Fare")
CATEGORICAL = ("Sex", "Embarked")


def typed_columns(raw: DataFrame) -> DataFrame:
    """The contract's columns, in its order, cast to its types (CSV text in, typed rows out)."""
    return raw.select([F.col(name).cast(kind).alias(name) for name, kind in TYPES.items()])


def load_typed(spark: SparkSession, csv_path: Path) -> DataFrame:
    """Read a contract-checked CSV with the contract's types and a double `label` column."""
    raw = spark.read.option("header", "true").option("inferSchema", "false").csv(str(csv_path))
    return typed_columns(raw).withColumn(LABEL, F.col("Survived").cast("double"))


def evaluation_split(
    frame: DataFrame, *, weights: tuple[float, float] = EVAL_SPLIT, seed: int = SEED
) -> tuple[DataFrame, DataFrame]:
    """The fixed train/evaluation split shared by every family and every training job."""
    train, evaluation = frame.randomSplit(list(weights), seed=seed)
    return train, evaluation


def preprocessing_stages(family: str) -> list[Any]:
    """Imputers, indexers, one-hot encoders and the assembler (plus a scaler for LR)."""
    assembled = FEATURES if family != "lr" else "features_unscaled"
    stages: list[Any] = [
        ModeImputer(inputCol="Embarked", outputCol="Embarked_filled"),
        Imputer(
            strategy="median", inputCols=["Age", "Fare"], outputCols=["Age_filled", "Fare_filled"]
        ),
        StringIndexer(
            inputCols=["Sex", "Embarked_filled"],
            outputCols=["Sex_index", "Embarked_index"],
            handleInvalid="keep",
            stringOrderType="frequencyDesc",
        ),
        OneHotEncoder(
            inputCols=["Sex_index", "Embarked_index"],
            outputCols=["Sex_onehot", "Embarked_onehot"],
            dropLast=True,
        ),
        VectorAssembler(
            inputCols=[*NUMERIC_INPUTS, "Sex_onehot", "Embarked_onehot"], outputCol=assembled
        ),
    ]
    if family == "lr":
        stages.append(
            StandardScaler(inputCol=assembled, outputCol=FEATURES, withMean=True, withStd=True)
        )
    return stages


def estimator(family: str, params: Params) -> Estimator:
    """The family's classifier with the given hyper-parameters (seeded where it samples)."""
    common = {"featuresCol": FEATURES, "labelCol": LABEL}
    if family == "lr":
        return LogisticRegression(maxIter=100, **common, **params)
    if family == "rf":
        return RandomForestClassifier(seed=SEED, **common, **params)
    if family == "gbt":
        return GBTClassifier(seed=SEED, **common, **params)
    raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")


def full_pipeline(family: str, params: Params) -> Pipeline:
    """Preprocessing plus the classifier: what gets fitted on the training rows and saved."""
    return Pipeline(stages=[*preprocessing_stages(family), estimator(family, params)])


def feature_names(indexer_labels: dict[str, list[str]]) -> list[str]:
    """Readable names of the assembled vector's slots, e.g. 'Sex=female', 'Embarked=C'."""
    names = list(NUMERIC_NAMES)
    for column in CATEGORICAL:
        names.extend(f"{column}={label}" for label in indexer_labels[column])
    return names
