"""Training-run bookkeeping without Spark: single flight, data checks, refusal messages."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from apps.training import dvc
from apps.training.models import DataVersion, TrainingRun
from apps.training.services.data_versions import TrainingDataError
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import TrainingRefused, training_run_request
from tests.support.processes import shared_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_it_counts_the_grid_points_of_the_profile(ingested: DataVersion) -> None:
    run = training_run_request(profile="full", families="gbt,lr")
    assert (run.families, run.progress_total, run.status) == (["lr", "gbt"], 17, "queued")


@pytest.mark.django_db
def test_it_refuses_unknown_profiles_and_families(ingested: DataVersion) -> None:
    with pytest.raises(TrainingRefused, match="unknown profile 'huge'"):
        training_run_request(profile="huge")
    with pytest.raises(TrainingRefused, match="unknown model family svm"):
        training_run_request(families="lr,svm")
    assert TrainingRun.objects.count() == 0


@pytest.mark.django_db
def test_it_needs_a_data_version() -> None:
    with pytest.raises(TrainingDataError, match="ingest_data"):
        training_run_request()


@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_many_concurrent_requests_through(ingested: DataVersion) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def request() -> None:
        from django.db import connection

        barrier.wait()
        try:
            training_run_request(profile="quick")
            outcomes.append("accepted")
        except TrainingRefused as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("accepted") == 1
    refusals = [o for o in outcomes if o != "accepted"]
    assert len(refusals) == 3
    assert all("already in progress" in o for o in refusals)
    assert TrainingRun.objects.filter(active=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_second_process(ingested: DataVersion, settings, tmp_path: Path) -> None:
    first = training_run_request(profile="quick")
    result = subprocess.run(
        [sys.executable, "manage.py", "train", "--profile", "quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "DATABASE_URL": shared_database_url(),
            "TITANIC_DVC_ROOT": str(settings.DVC_ROOT),
            "TITANIC_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 1
    assert f"training run {first.pk} is queued" in result.stderr
    assert TrainingRun.objects.count() == 1


@pytest.mark.django_db
def test_it_frees_the_slot_of_an_abandoned_run(ingested: DataVersion, settings) -> None:
    settings.TRAINING_TIMEOUT_SECONDS = 60
    stale = training_run_request(profile="quick")
    TrainingRun.objects.filter(pk=stale.pk).update(
        status="running", heartbeat_at=stale.created_at.replace(year=2000)
    )
    fresh = training_run_request(profile="quick")
    stale.refresh_from_db()
    assert (stale.status, stale.active) == ("failed", None)
    assert "abandoned" in stale.error
    assert fresh.active


@pytest.mark.django_db
def test_it_stops_before_spark_when_the_data_changed(ingested: DataVersion, dvc_repo: Path) -> None:
    csv_path = dvc_repo / "data" / "titanic.csv"
    csv_path.write_bytes(csv_path.read_bytes() + b"892,1,1,x,female,30,0,0,t,10,,S\n")
    run = training_run_execute(run_id=training_run_request(profile="quick").pk)
    assert run.status == "failed"
    assert "changed on disk (hash mismatch" in run.error
    assert run.mlflow_parent_run_id == ""
    assert run.active is None
    assert training_run_request(profile="quick").status == "queued"


@pytest.mark.django_db
def test_it_stops_when_an_old_version_left_the_cache(
    ingested: DataVersion, dvc_repo: Path, titanic_bytes: bytes
) -> None:
    from apps.training.services.data_versions import data_version_ingest

    data_version_ingest(data=titanic_bytes[:20000].rsplit(b"\n", 1)[0] + b"\n", source="cut")
    dvc.cache_path(dvc_repo, ingested.md5).unlink()
    ingested.refresh_from_db()
    run = training_run_request(profile="quick", data_version=ingested)
    run = training_run_execute(run_id=run.pk)
    assert "file missing" in run.error and "dvc pull" in run.error


@pytest.mark.django_db
def test_it_will_not_execute_a_run_twice(ingested: DataVersion) -> None:
    run = training_run_request(profile="quick")
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", active=None)
    with pytest.raises(TrainingRefused, match="is succeeded, not queued"):
        training_run_execute(run_id=run.pk)
