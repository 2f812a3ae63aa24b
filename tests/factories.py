"""Small real objects for tests that must not start Spark: data versions, runs, champions.

The scorer is a genuine portable-scorer file (a small logistic regression written in the
exporter's format); only its coefficients are chosen by hand instead of fitted.
"""

import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.portable.format import canonical_json
from apps.training import registry
from apps.training.models import DataVersion, ModelVersion, TrainingRun

NAMES = [
    "Pclass",
    "Age",
    "SibSp",
    "Parch",
    "Fare",
    "Sex=male",
    "Sex=female",
    "Embarked=S",
    "Embarked=C",
    "Embarked=Q",
]
SEED_EXAMPLE = {
    "Pclass": 3,
    "Sex": "male",
    "Age": 22,
    "SibSp": 1,
    "Parch": 0,
    "Fare": 7.25,
    "Embarked": "S",
}


def scorer_dict(intercept: float = 0.5) -> dict[str, Any]:
    """A logistic regression in the exported format: women, children and 1st class score high."""
    return {
        "format": "titanic-ops-scorer/1",
        "family": "lr",
        "feature_names": NAMES,
        "preprocessing": {
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
        },
        "model": {
            "coefficients": [-0.9, -0.03, -0.3, -0.1, 0.004, -1.3, 1.3, -0.2, 0.3, 0.0],
            "intercept": intercept,
        },
    }


def data_version(md5: str = "0" * 32) -> DataVersion:
    found = DataVersion.objects.filter(md5=md5).first()
    return found or DataVersion.objects.create(
        md5=md5, size_bytes=1, rows=891, positives=342, source="factory", is_current=True
    )


def model_version_install(
    version: int,
    *,
    champion: bool = True,
    intercept: float = 0.5,
    cache_dir: Path | None = None,
    feature_profile: dict[str, Any] | None = None,
) -> ModelVersion:
    """Write a scorer file into the model cache and register a mirror row for it."""
    cache = cache_dir or settings.MODEL_CACHE_DIR
    payload = canonical_json(scorer_dict(intercept))
    path = registry.scorer_path(cache, settings.MLFLOW_MODEL_NAME, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    data = data_version()
    run = TrainingRun.objects.create(
        profile="quick", families=["lr"], data_version=data, status="succeeded", active=None
    )
    if champion:
        ModelVersion.objects.filter(is_champion=True).update(is_champion=None, status="retired")
    return ModelVersion.objects.create(
        name=settings.MLFLOW_MODEL_NAME,
        version=version,
        training_run=run,
        data_version=data,
        family="lr",
        mlflow_run_id=f"run{version}",
        model_uri=f"runs:/run{version}/model",
        scorer_uri=f"runs:/run{version}/scorer/scorer.json",
        scorer_sha256=hashlib.sha256(payload).hexdigest(),
        metrics={"eval_auc": 0.85},
        status="champion" if champion else "candidate",
        is_champion=True if champion else None,
        feature_profile=feature_profile or {},
    )


def user_in_role(username: str, role: str | None, **fields: Any) -> Any:
    """An account in one role's group (None: no role at all), the groups set up first."""
    from django.contrib.auth import get_user_model

    from apps.monitoring.services.roles import role_grant, roles_setup

    user = get_user_model().objects.create_user(username, password="x" * 12, **fields)
    roles_setup()
    if role is not None:
        role_grant(username=username, role=role)
    return user


def inference_rows_log(
    passengers: list[dict[str, Any]], *, version: int = 1, minutes_ago: float = 0.0
) -> list[Any]:
    """Logged predictions for these passengers (a `true_label` key becomes the true label)."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.features import log_values
    from apps.serving.models import InferenceLog

    at = timezone.now() - timedelta(minutes=minutes_ago)
    return InferenceLog.objects.bulk_create(
        InferenceLog(
            request_id=uuid.uuid4(),
            created_at=at,
            model_version=version,
            **log_values(p),
            prob_survive=0.4,
            label=0,
            latency_ms=1.0,
            true_label=p.get("true_label"),
        )
        for p in passengers
    )
