"""The one feature spec: names, kinds and domains of the model's inputs (DESIGN.md section 3).

The data contract, the API serializers, the drift bins, the inference log and the test factories
all read this module; nothing else declares a feature name. Pure Python: no Django, no numpy.
"""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["integer", "float", "choice", "choice_integer"]


@dataclass(frozen=True)
class Feature:
    """One input column: its type and domain, and where the inference log keeps it."""

    name: str
    kind: Kind
    log_column: str
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    # How drift monitoring bins it: deciles for "numeric", one bin per level for "categorical".
    drift: Literal["numeric", "categorical"] = "numeric"
    # How the Spark pipeline treats it: a number (imputed, scaled) or a string (indexed, one-hot).
    model: Literal["numeric", "categorical"] = "numeric"


SPEC: tuple[Feature, ...] = (
    Feature(
        "Pclass",
        "choice_integer",
        "pclass",
        choices=("1", "2", "3"),
        low=1,
        high=3,
        drift="categorical",
    ),
    Feature(
        "Sex",
        "choice",
        "sex",
        choices=("male", "female"),
        drift="categorical",
        model="categorical",
    ),
    Feature("Age", "float", "age", nullable=True, low=0, high=120),
    Feature("SibSp", "integer", "sibsp", low=0, high=20),
    Feature("Parch", "integer", "parch", low=0, high=20),
    Feature("Fare", "float", "fare", nullable=True, low=0, high=10000),
    Feature(
        "Embarked",
        "choice",
        "embarked",
        nullable=True,
        choices=("C", "Q", "S"),
        drift="categorical",
        model="categorical",
    ),
)
LABEL = Feature("Survived", "integer", "true_label", low=0, high=1)

BY_NAME: dict[str, Feature] = {feature.name: feature for feature in (*SPEC, LABEL)}
FEATURES: tuple[str, ...] = tuple(feature.name for feature in SPEC)
REQUIRED_COLUMNS: tuple[str, ...] = (LABEL.name, *FEATURES)
NUMERIC_FEATURES: tuple[str, ...] = tuple(f.name for f in SPEC if f.model == "numeric")
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in SPEC if f.model == "categorical")
DRIFT_NUMERIC_FEATURES: tuple[str, ...] = tuple(f.name for f in SPEC if f.drift == "numeric")
# Inference-log column of each feature (the log stores features as typed columns).
LOG_COLUMNS: dict[str, str] = {feature.name: feature.log_column for feature in SPEC}


def log_values(features: dict[str, object]) -> dict[str, object]:
    """Feature values keyed by their inference-log column."""
    return {LOG_COLUMNS[name]: features[name] for name in FEATURES}
