"""Drift reports carry the champion's estimated performance, realised figures and score drift."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from apps.monitoring import psi
from apps.monitoring.services.drift_checks import drift_report_create
from apps.portable.scorer import PortableScorer
from apps.serving.models import InferenceLog
from apps.training.calibration import calibration_record
from apps.training.contract import parse_dataset
from apps.training.metrics import class_metrics
from apps.training.models import ModelVersion
from tests.factories import model_version_install, scorer_dict

pytestmark = pytest.mark.django_db
Row = dict[str, Any]


@pytest.fixture(scope="module")
def rows(titanic_bytes: bytes) -> list[Row]:
    return parse_dataset(titanic_bytes).rows


@pytest.fixture
def champion(rows: list[Row], settings: Any, tmp_path: Path) -> ModelVersion:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    version = model_version_install(
        1, feature_profile=psi.build_baseline(psi.rows_to_columns(rows))
    )
    evaluation = rows[:145]
    scores = PortableScorer.from_dict(scorer_dict()).predict_proba(evaluation)
    labels = [r["Survived"] for r in evaluation]
    metrics = class_metrics(labels, scores)
    version.metrics = {
        "eval_auc": 0.85,
        "eval_accuracy": metrics["accuracy"],
        "per_class": metrics["per_class"],
    }
    version.save(update_fields=["metrics"])
    calibration_record(model_version=version, scores=scores, labels=labels)
    return version


def _log(passengers: list[Row], *, labelled: int) -> np.ndarray:
    scores = PortableScorer.from_dict(scorer_dict()).predict_proba(passengers)
    at = timezone.now() - timedelta(minutes=1)
    InferenceLog.objects.bulk_create(
        InferenceLog(
            request_id=uuid.uuid4(),
            created_at=at,
            model_version=1,
            pclass=p["Pclass"],
            sex=p["Sex"],
            age=p["Age"],
            sibsp=p["SibSp"],
            parch=p["Parch"],
            fare=p["Fare"],
            embarked=p["Embarked"],
            prob_survive=float(score),
            label=int(score > 0.5),
            latency_ms=1.0,
            true_label=p["Survived"] if i < labelled else None,
        )
        for i, (p, score) in enumerate(zip(passengers, scores, strict=True))
    )
    return scores


def test_it_stores_the_estimate_beside_the_realised_figures(
    champion: ModelVersion, rows: list[Row]
) -> None:
    window = rows[145:545]
    scores = _log(window, labelled=100)
    report = drift_report_create()
    estimate = report.performance["estimate"]
    assert estimate["n_rows"] == 400
    for name in ("accuracy", "precision", "recall", "auc"):
        assert estimate[name]["low"] <= estimate[name]["value"] <= estimate[name]["high"]
    labelled = window[:100]
    expected = class_metrics([r["Survived"] for r in labelled], scores[:100])["accuracy"]
    assert report.performance["realised"]["n_labelled"] == 100
    assert report.performance["realised"]["accuracy"] == pytest.approx(expected)
    assert report.prediction["labels"][-1] == "MISSING"
    assert sum(report.prediction["actual"]) == pytest.approx(1.0)


def test_it_raises_a_warning_on_an_estimated_drop_alone(
    champion: ModelVersion, rows: list[Row], settings: Any
) -> None:
    settings.DRIFT_RETRAIN_ON = "off"
    reference = champion.metrics["eval_accuracy"]
    settings.PERFORMANCE_DROP_TOLERANCE = 0.0
    # Pretend evaluation was far better than anything this traffic can reach.
    champion.metrics = {**champion.metrics, "eval_accuracy": min(reference + 0.3, 1.0)}
    champion.save(update_fields=["metrics"])
    _log(rows[145:545], labelled=0)
    report = drift_report_create()
    assert "accuracy" in report.performance["drops"]
    assert report.performance["realised"] is None
    assert report.verdict in ("warning", "critical")


def test_it_skips_estimation_for_a_version_without_calibration(
    champion: ModelVersion, rows: list[Row]
) -> None:
    ModelVersion.objects.filter(pk=champion.pk).update(calibration={})
    _log(rows[145:245], labelled=0)
    report = drift_report_create()
    assert "no calibration" in report.performance["error"]
