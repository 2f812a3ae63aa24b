"""Registration stores a calibration fitted on the version's own evaluation rows (real Spark)."""

from typing import Any

import numpy as np
import pytest

from apps.core.calibration import calibrate
from apps.training.models import DataVersion, ModelVersion
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request

pytestmark = [pytest.mark.spark, pytest.mark.django_db]


def test_it_stores_a_sigmoid_calibration_and_score_profile_at_registration(
    spark: Any, ingested: DataVersion, mlflow_store: str
) -> None:
    run = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert run.status == "succeeded", run.error
    version = ModelVersion.objects.get(version=1)
    calibration = version.calibration
    assert calibration["method"] == "sigmoid"
    assert np.isfinite([calibration["a"], calibration["b"]]).all()
    assert calibration["a"] < 0  # higher scores stay more likely to survive
    profile = calibration["score_profile"]
    assert profile["n_rows"] == calibration["n_rows"]
    assert 100 <= calibration["n_rows"] <= 200  # the fixed evaluation split (145 rows of 891)
    assert sum(profile["features"]["score"]["counts"]) == calibration["n_rows"]
    # Applied with numpy alone, the calibration keeps the scores' order.
    edges = profile["features"]["score"]["edges"]
    calibrated = calibrate(calibration, edges)
    assert np.all(np.diff(calibrated) > 0)
