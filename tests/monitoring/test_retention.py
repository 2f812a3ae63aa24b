"""Inference log retention: old rows go to Parquet by day, then leave the table; all else works."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.features import LOG_COLUMNS
from apps.monitoring import psi
from apps.monitoring.schedules import schedules_setup
from apps.monitoring.tasks import inference_archive_task
from apps.serving.models import InferenceArchive, InferenceLog, LabelProvenance
from apps.serving.retention import SCHEMA, inference_archive_rows, inference_log_archive
from apps.serving.services import InferenceNotFound, feedback_record
from apps.training.contract import parse_dataset
from tests.factories import model_version_install, user_in_role
from tests.support.commands import drift_check

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated(settings: Any, tmp_path: Path) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path / "data"
    settings.INFERENCE_LOG_RETENTION_DAYS = 30
    settings.INFERENCE_ARCHIVE_BATCH_ROWS = 100


def _log(rows: list[dict[str, Any]], at: datetime, *, labelled: bool = False) -> None:
    rng = random.Random(at.toordinal())
    InferenceLog.objects.bulk_create(
        InferenceLog(
            request_id=uuid.uuid4(),
            created_at=at + timedelta(seconds=i),
            model_version=1,
            **{column: row[name] for name, column in LOG_COLUMNS.items()},
            prob_survive=rng.random(),
            label=rng.randint(0, 1),
            latency_ms=rng.uniform(1, 9),
            true_label=rng.randint(0, 1) if labelled else None,
            labelled_at=at if labelled else None,
        )
        for i, row in enumerate(rows)
    )
    if labelled:  # each label with its provenance, as /feedback records it
        LabelProvenance.objects.bulk_create(
            LabelProvenance(inference=log, labelled_by_name="lena", labelled_via="token")
            for log in InferenceLog.objects.filter(created_at__gte=at, true_label__isnull=False)
        )


def _as_dict(row: dict[str, Any]) -> dict[str, Any]:
    given = LabelProvenance.objects.filter(inference_id=row["id"]).first()
    row = {
        **row,
        "labelled_by": given.labelled_by_name if given else None,
        "labelled_via": given.labelled_via if given else None,
    }
    return {
        name: str(row[name]) if name in ("request_id", "batch_id") and row[name] else row[name]
        for name in SCHEMA.names
    }


def test_it_archives_rows_past_the_retention_and_removes_them(titanic_bytes: bytes) -> None:
    passengers = parse_dataset(titanic_bytes).rows
    _log(passengers[:250], NOW - timedelta(days=45), labelled=True)  # 3 files of <= 100 rows
    _log(passengers[250:310], NOW - timedelta(days=31, hours=1))  # the last archived day
    _log(passengers[310:400], NOW - timedelta(days=29))  # inside the retention
    old_ids = set(
        InferenceLog.objects.filter(created_at__lt=datetime(2026, 5, 16, tzinfo=UTC)).values_list(
            "id", flat=True
        )
    )
    expected = [_as_dict(row) for row in InferenceLog.objects.filter(id__in=old_ids).values()]

    result = inference_log_archive(now=NOW)

    assert (result.rows, result.files, result.days) == (310, 4, ["2026-05-01", "2026-05-15"])
    assert not InferenceLog.objects.filter(id__in=old_ids).exists()
    assert InferenceLog.objects.count() == 90
    archived = [
        row
        for a in InferenceArchive.objects.order_by("first_id")
        for row in inference_archive_rows(a)
    ]
    assert sorted(archived, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    assert all(row["true_label"] is not None for row in archived[:250])
    # Who labelled an archived row, and how, leaves the database with it.
    assert {(row["labelled_by"], row["labelled_via"]) for row in archived[:250]} == {
        ("lena", "token")
    }
    assert not LabelProvenance.objects.filter(inference_id__in=old_ids).exists()
    paths = sorted(a.path for a in InferenceArchive.objects.all())
    assert paths[0].startswith("archive/inference/day=2026-05-01/part-")
    assert paths[-1].startswith("archive/inference/day=2026-05-15/part-")
    assert all((Path(a.path).suffix == ".parquet") for a in InferenceArchive.objects.all())
    # Nothing more to do: a second run archives nothing and keeps the files.
    assert inference_log_archive(now=NOW).rows == 0
    assert InferenceArchive.objects.count() == 4


def test_it_refuses_labels_for_archived_rows_with_the_reason(titanic_bytes: bytes) -> None:
    _log(parse_dataset(titanic_bytes).rows[:3], NOW - timedelta(days=40))
    request_id = InferenceLog.objects.first().request_id
    inference_log_archive(now=NOW)
    with pytest.raises(InferenceNotFound, match="older than 30 days are archived"):
        feedback_record(request_id=request_id, survived=1)


def test_it_checks_drift_and_shows_traffic_across_the_boundary(
    titanic_bytes: bytes, settings: Any
) -> None:
    passengers = parse_dataset(titanic_bytes).rows
    model_version_install(1, feature_profile=psi.build_baseline(psi.rows_to_columns(passengers)))
    now = datetime.now(UTC)
    _log(passengers[:200], now - timedelta(days=40))
    _log(passengers[200:500], now - timedelta(minutes=20))
    inference_log_archive()
    assert InferenceLog.objects.count() == 300

    code, report = drift_check()
    assert (code, report["verdict"], report["rows"]) == (0, "none", 300)

    client = Client()
    client.force_login(user_in_role("lars", "labeller"))  # a role that reads traffic
    response = client.get(reverse("dashboard:traffic"))
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 300


def test_it_runs_the_archive_from_a_named_daily_schedule() -> None:
    lines = schedules_setup()
    assert any("titanic-inference-archive: every day (created)" in line for line in lines)
    assert inference_archive_task().startswith("archived 0 inference rows in 0 files")
