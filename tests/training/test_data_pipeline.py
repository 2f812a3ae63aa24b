"""The DVC pipeline (dvc.yaml): `dvc repro` makes the typed Parquet and training reads it.

Real DVC (its command line, in an isolated repository holding the project's dvc.yaml and
params.yaml, with the project's code linked in), real Spark, a real MLflow store and database.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.conf import settings as django_settings

from apps.training import dvc
from apps.training.models import DataVersion, TrainingRun
from apps.training.services.data_versions import data_version_ingest
from apps.training.services.processed_data import PIPELINE_PARQUET
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request
from tests.support.processes import shared_database_url

ROOT = Path(django_settings.BASE_DIR)
CONTRACT_SCHEMA = [
    ("Survived", "int32"),
    ("Pclass", "int32"),
    ("Sex", "string"),
    ("Age", "double"),
    ("SibSp", "int32"),
    ("Parch", "int32"),
    ("Fare", "double"),
    ("Embarked", "string"),
]


@pytest.fixture
def pipeline_repo(dvc_repo: Path, settings: Any) -> Path:
    """The isolated DVC repository with the project's pipeline files and code in it."""
    for name in ("dvc.yaml", "params.yaml"):
        (dvc_repo / name).write_bytes((ROOT / name).read_bytes())
    (dvc_repo / "apps").symlink_to(ROOT / "apps", target_is_directory=True)
    (dvc_repo / "manage.py").symlink_to(ROOT / "manage.py")
    settings.TRAINING_PARAMS_FILE = dvc_repo / "params.yaml"
    return dvc_repo


def _dvc(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`dvc ARGS` in `root`, with this interpreter first on PATH (dvc.yaml says `python`)."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        },
    )
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _locked(root: Path) -> dict[str, str]:
    return dvc.locked_md5s(root / "dvc.lock", "preprocess")


@pytest.mark.django_db
def test_a_required_pipeline_parquet_that_is_missing_fails_the_run_with_the_command(
    ingested: DataVersion,
) -> None:
    run = training_run_execute(
        run_id=training_run_request(profile="quick", families="lr").pk,
        require_pipeline_data=True,
    )
    assert run.status == "failed"
    assert f"{PIPELINE_PARQUET} has not been made (run `dvc repro preprocess`)" in run.error
    assert run.mlflow_parent_run_id == ""  # refused before Spark or MLflow started


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_dvc_repro_makes_the_parquet_once_identically_and_again_after_an_ingest(
    pipeline_repo: Path, titanic_bytes: bytes, spark: Any, tmp_path: Path
) -> None:
    v1 = data_version_ingest(data=titanic_bytes, source="test").data_version
    parquet = pipeline_repo / PIPELINE_PARQUET

    _dvc(pipeline_repo, "repro", "preprocess")
    table = pq.read_table(parquet)
    assert [(f.name, str(f.type)) for f in table.schema] == CONTRACT_SCHEMA
    assert table.num_rows == v1.rows == 891
    first_md5 = dvc.file_md5(parquet)
    assert _locked(pipeline_repo) == {
        "data/titanic.csv": v1.md5,
        PIPELINE_PARQUET: first_md5,
        **{k: v for k, v in _locked(pipeline_repo).items() if k.startswith("apps/")},
    }

    # Nothing changed: nothing runs and the file is not rewritten.
    stamp = parquet.stat().st_mtime_ns
    assert "didn't change, skipping" in _dvc(pipeline_repo, "repro", "preprocess")
    assert parquet.stat().st_mtime_ns == stamp

    # A forced regeneration writes the same bytes, and so does a training job's own writer.
    _dvc(pipeline_repo, "repro", "--force", "preprocess")
    assert parquet.stat().st_mtime_ns != stamp
    assert dvc.file_md5(parquet) == first_md5
    from apps.training.spark.preprocess import processed_write

    own = tmp_path / "own.parquet"
    processed_write(spark, pipeline_repo / "data" / "titanic.csv", own)
    assert dvc.file_md5(own) == first_md5

    # A new ingest makes the pipeline stale; the next repro follows the new data.
    extra = b"892,1,1,Pipeline; Test,female,30,0,0,T1,10.5,,S\n"
    v2 = data_version_ingest(data=titanic_bytes + extra, source="test").data_version
    assert "changed deps" in _dvc(pipeline_repo, "status")
    _dvc(pipeline_repo, "repro", "preprocess")
    assert pq.read_metadata(parquet).num_rows == v2.rows == 892
    assert _locked(pipeline_repo)["data/titanic.csv"] == v2.md5
    assert _locked(pipeline_repo)[PIPELINE_PARQUET] == dvc.file_md5(parquet) != first_md5


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_training_reads_the_pipelines_parquet_and_records_its_hash(
    pipeline_repo: Path, titanic_bytes: bytes, mlflow_store: str, settings: Any
) -> None:
    import mlflow

    v1 = data_version_ingest(data=titanic_bytes, source="test").data_version
    _dvc(pipeline_repo, "repro", "preprocess")
    pipeline_md5 = _locked(pipeline_repo)[PIPELINE_PARQUET]

    run = training_run_execute(
        run_id=training_run_request(profile="quick", families="lr").pk,
        require_pipeline_data=True,
    )
    assert run.status == "succeeded", run.error
    assert (run.processed_source, run.processed_md5) == ("pipeline", pipeline_md5)
    tags = mlflow.MlflowClient(mlflow_store).get_run(run.mlflow_parent_run_id).data.tags
    assert (tags["data_version_md5"], tags["data_parquet_md5"]) == (v1.md5, pipeline_md5)

    # A new ingest without `dvc repro`: the job writes the Parquet itself, with the same code.
    data_version_ingest(
        data=titanic_bytes + b"892,0,3,New; Row,male,40,0,0,T2,7.25,,Q\n", source="t"
    )
    second = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert second.status == "succeeded", second.error
    assert second.processed_source == "regenerated"
    assert second.processed_md5 not in ("", pipeline_md5)
    _dvc(pipeline_repo, "repro", "preprocess")
    assert _locked(pipeline_repo)[PIPELINE_PARQUET] == second.processed_md5


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_dvc_repro_runs_the_train_stage_once_from_the_parquet(
    pipeline_repo: Path, titanic_bytes: bytes, settings: Any, tmp_path: Path
) -> None:
    data_version_ingest(data=titanic_bytes, source="test")
    env = {
        "DATABASE_URL": shared_database_url(),
        "TITANIC_DVC_ROOT": str(pipeline_repo),
        "TITANIC_VAR_DIR": str(tmp_path / "platform"),
    }
    output = _dvc(pipeline_repo, "repro", env=env)
    assert "Running stage 'preprocess'" in output and "Running stage 'train'" in output
    summary = json.loads((pipeline_repo / "reports" / "train.json").read_text())
    run = TrainingRun.objects.get(pk=summary["training_run_id"])
    assert run.status == summary["status"] == "succeeded"
    assert summary["data_parquet_source"] == "pipeline"
    assert summary["data_parquet_md5"] == _locked(pipeline_repo)[PIPELINE_PARQUET]
    [version] = summary["model_versions"]
    assert version["outcome"].startswith(f"v{version['version']} ")

    again = _dvc(pipeline_repo, "repro", env=env)
    assert "Data and pipelines are up to date" in again
    assert TrainingRun.objects.count() == 1
    assert "train" in _dvc(pipeline_repo, "dag")
