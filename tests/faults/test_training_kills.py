"""`manage.py train` killed at every named step of search, registration and promotion.

After each kill: the champion (database and alias) is unchanged, no half-made version can be
promoted or served, the champion keeps its drift baseline, no JVM outlives the process, and the
next training is accepted at once (the reaper knows the killed process is gone).
"""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from mlflow import MlflowClient

from apps.core.crashpoints import CRASH_EXIT_CODE
from apps.training import registry
from apps.training.models import ModelVersion, TrainingRun
from apps.training.services.model_versions import (
    PromotionError,
    model_version_is_complete,
    model_version_promote,
)
from tests.faults.conftest import java_survivors, manage

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.django_db(transaction=True)]

POINTS = [
    "train.search",
    "register.before_version",
    "register.after_version",
    "register.row",
    "register.gate",
    "promote.before_alias",
    "promote.after_alias",
]


def _alias(uri: str) -> int | None:
    return registry.alias_version(tracking_uri=uri, name="titanic_spark_model", alias="champion")


def _mlflow_versions(uri: str) -> int:
    return len(MlflowClient(uri).search_model_versions("name='titanic_spark_model'"))


def _assert_sound(uri: str, champion: int) -> None:
    row = ModelVersion.objects.get(is_champion=True)
    assert row.version == champion and row.feature_profile["features"], "drift baseline lost"
    assert _alias(uri) == champion
    assert not TrainingRun.objects.filter(active=True).exists()
    assert not ModelVersion.objects.filter(status="registering").exists()
    for version in ModelVersion.objects.filter(status__in=["candidate", "champion"]):
        assert model_version_is_complete(version) and version.feature_profile, version


def test_it_recovers_from_a_kill_at_every_training_step(
    platform: dict[str, str], titanic_csv: Path, settings: Any
) -> None:
    uri = platform["MLFLOW_TRACKING_URI"]
    # Equal models pass the gate, so later jobs reach promotion; beats every 2 s.
    platform.update(PROMOTION_MIN_AUC_DELTA="-0.01", TRAINING_HEARTBEAT_TIMEOUT_SECONDS="8")
    assert manage(platform, "ingest_data", str(titanic_csv)).returncode == 0
    first = manage(platform, "train", "--families", "lr")
    assert first.returncode == 0, first.stderr[-3000:]
    _assert_sound(uri, champion=1)
    seen: dict[str, str] = {}
    for point in POINTS:
        versions_before = _mlflow_versions(uri)
        killed = manage(platform, "train", "--families", "lr", "--force", crash=point)
        assert killed.returncode == CRASH_EXIT_CODE, (point, killed.stderr[-3000:])
        assert java_survivors(platform) == [], f"{point}: a JVM outlived its driver"
        run = TrainingRun.objects.order_by("-id").first()
        half = ModelVersion.objects.filter(training_run=run).first()
        if half is not None and half.status == "registering":
            for force in (False, True):
                with pytest.raises(PromotionError, match="not completely registered"):
                    model_version_promote(version=half.version, actor="ops", force=force)
        out = io.StringIO()
        call_command("reap", stdout=out)  # what the schedule, a worker start or a request does
        run.refresh_from_db()
        assert (run.status, run.active) == ("failed", None), point
        assert "worker process" in run.error
        if run.mlflow_parent_run_id:  # ended by the job (FINISHED) or by the reaper (KILLED)
            parent = MlflowClient(uri).get_run(run.mlflow_parent_run_id)
            expected = "KILLED" if point == "train.search" else "FINISHED"
            assert parent.info.status == expected, point
        _assert_sound(uri, champion=1)
        new_versions = _mlflow_versions(uri) - versions_before
        mirrored = ModelVersion.objects.filter(training_run=run).first()
        seen[point] = (
            f"exit {killed.returncode}; run failed ({run.error}); MLflow versions +{new_versions}; "
            f"row {mirrored.status if mirrored else 'none'}; champion v1, alias v1; "
            + " ".join(line for line in out.getvalue().splitlines() if "none" not in line)
        )
    final = manage(platform, "train", "--families", "lr", "--force")  # runs to the end
    assert final.returncode == 0, final.stderr[-3000:]
    champion = ModelVersion.objects.get(is_champion=True)
    assert champion.version > 1 and champion.feature_profile["features"]
    assert _alias(uri) == champion.version
    assert java_survivors(platform) == []
    for point, what in seen.items():
        print(f"{point}: {what}")
