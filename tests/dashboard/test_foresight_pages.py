"""The drift page, a report and the Models page show estimates, score drift and shadow replays."""

from typing import Any

import numpy as np
import pytest
from django.test import Client

from apps.core import bins
from apps.monitoring import estimation
from apps.monitoring.models import DriftReport
from apps.monitoring.shadow import shadow_compare
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db
CALIBRATION = {"method": "sigmoid", "a": -1.0, "b": 0.0, "cov": [[0.01, 0.0], [0.0, 0.01]]}


def _performance(rng: np.random.Generator) -> dict[str, Any]:
    scores = rng.uniform(0.05, 0.95, 300)
    served = (scores > 0.5).astype(int)
    estimate = estimation.performance_estimate(CALIBRATION, scores, served)
    realised = estimation.performance_realised(
        (rng.uniform(size=60) < scores[:60]).astype(int), scores[:60], served[:60]
    )
    return {
        "estimate": estimate,
        "realised": realised,
        "reference": {"accuracy": 0.8123, "precision": 0.8, "recall": 0.7, "auc": 0.86},
        "tolerance": 0.05,
        "drops": {"accuracy": 0.0456},
        "calibration": {"method": "sigmoid", "n_rows": 145},
    }


def test_it_charts_estimated_performance_on_the_drift_page_and_overview(
    viewer_client: Client,
) -> None:
    rng = np.random.default_rng(1)
    report = f.drift_report_create(psi={"Sex": 0.05}, verdict="warning")
    performance = _performance(rng)
    profile = bins.build_baseline({"score": list(rng.uniform(size=145))}, numeric={"score"})
    feature = profile["features"]["score"]
    prediction = {
        "psi": 0.4321,
        "floor": 0.1,
        "drifted": True,
        "labels": feature["labels"],
        "expected": feature["proportions"],
        "actual": feature["proportions"],
    }
    DriftReport.objects.filter(pk=report.pk).update(performance=performance, prediction=prediction)
    page = viewer_client.get("/drift/").content.decode()
    assert 'id="fig-performance"' in page
    value = performance["estimate"]["accuracy"]["value"]
    assert f"{value:.3f}" in page
    assert "0.812" in page  # the evaluation figure beside it
    assert "accuracy \u22120.046" in page  # the drop, named as a drift signal
    detail = viewer_client.get(f"/drift/{report.pk}/").content.decode()
    assert "prediction (score)" in detail
    assert "0.4321" in detail
    assert 'id="fig-dist-prediction"' in detail
    overview = viewer_client.get("/").content.decode()
    assert 'id="fig-estimate"' in overview  # drawn from the overview's charts JSON


def test_it_shows_the_shadow_replay_beside_the_gate(viewer_client: Client) -> None:
    champion = f.model_version_create(1)
    candidate = f.model_version_create(2, status="candidate")
    request = f.pending_request(candidate, champion)
    rows = [{"Sex": "female", "Pclass": 1, "Embarked": "S"}] * 3 + [
        {"Sex": "male", "Pclass": 3, "Embarked": None}
    ]
    result = shadow_compare(rows, [0.9, 0.6, 0.4, 0.2], [0.8, 0.4, 0.45, 0.3], [1, 1, None, 0])
    request.shadow = {**result, "champion_version": 1}
    request.save(update_fields=["shadow"])
    page = viewer_client.get("/models/").content.decode()
    assert 'id="shadow-2"' in page
    assert '<strong class="shadow-agreement">0.7500</strong>' in page
    assert '<strong class="shadow-flips">1</strong>' in page
    assert "Sex x Pclass: female / 1" in page
    assert 'id="fig-shadow-2"' in page
