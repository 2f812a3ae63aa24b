"""Inference log retention: rows past the retention go to Parquet by day, then leave the table.

Each batch (at most INFERENCE_ARCHIVE_BATCH_ROWS rows of one UTC day, in id order) is written to
its own file, named by its id range, before one transaction records the file and deletes exactly
those rows. A crash between the two leaves a file that the next run rewrites under the same name
(same day, same first rows), so a row is never lost and never archived twice in the registry.
Labels for archived rows are refused (`feedback_record` says why); label within the retention.
Who labelled an archived row, and how, is archived with it (its LabelProvenance leaves with it).
"""

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.serving.models import InferenceArchive, InferenceLog, LabelProvenance

logger = logging.getLogger(__name__)

ARCHIVE_FOLDER = Path("archive") / "inference"
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("request_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("model_version", pa.int64()),
        ("batch_id", pa.string()),
        ("pclass", pa.int64()),
        ("sex", pa.string()),
        ("age", pa.float64()),
        ("sibsp", pa.int64()),
        ("parch", pa.int64()),
        ("fare", pa.float64()),
        ("embarked", pa.string()),
        ("prob_survive", pa.float64()),
        ("label", pa.int64()),
        ("latency_ms", pa.float64()),
        ("true_label", pa.int64()),
        ("labelled_at", pa.timestamp("us", tz="UTC")),
        # The label's provenance (LabelProvenance), kept with the row it leaves with.
        ("labelled_by", pa.string()),
        ("labelled_via", pa.string()),
    ]
)
_LOG_COLUMNS = tuple(name for name in SCHEMA.names if name not in ("labelled_by", "labelled_via"))
_AS_TEXT = ("request_id", "batch_id")
ArchiveRow = dict[str, Any]  # one inference row as archived: SCHEMA's names -> values


@dataclass(frozen=True)
class ArchiveResult:
    cutoff: datetime
    files: int
    rows: int
    days: list[str]


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """Start of the oldest UTC day still kept: rows created before it are archived."""
    moment = (now or timezone.now()).astimezone(UTC)
    day = moment.date() - timedelta(days=settings.INFERENCE_LOG_RETENTION_DAYS)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _batch_write(rows: list[ArchiveRow], day: date) -> tuple[Path, str]:
    """Write one batch to its Parquet file (atomically) and return its relative path and hash."""
    relative = (
        ARCHIVE_FOLDER
        / f"day={day.isoformat()}"
        / (f"part-{rows[0]['id']:012d}-{rows[-1]['id']:012d}.parquet")
    )
    target = settings.VAR_DIR / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    columns = {
        name: [None if row[name] is None else str(row[name]) for row in rows]
        if name in _AS_TEXT
        else [row[name] for row in rows]
        for name in SCHEMA.names
    }
    staging = target.with_suffix(".incoming")
    pq.write_table(pa.table(columns, schema=SCHEMA), staging)
    with staging.open("rb") as handle:
        os.fsync(handle.fileno())  # the file is on disk before its rows leave the database
    staging.replace(target)
    return relative, hashlib.sha256(target.read_bytes()).hexdigest()


def _batch_read(old: QuerySet[InferenceLog], size: int) -> list[ArchiveRow]:
    """The next `size` rows in id order, each with its label's provenance (or None)."""
    batch = list(old.order_by("id").values(*_LOG_COLUMNS)[:size])
    given: dict[int, tuple[str, str]] = {
        inference_id: (name, via)
        for inference_id, name, via in LabelProvenance.objects.filter(
            inference_id__in=[row["id"] for row in batch]
        ).values_list("inference_id", "labelled_by_name", "labelled_via")
    }
    for row in batch:
        row["labelled_by"], row["labelled_via"] = given.get(row["id"], (None, None))
    return batch


def _old_days(cutoff: datetime) -> list[date]:
    days = (
        InferenceLog.objects.filter(created_at__lt=cutoff)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by("day")
        .values_list("day", flat=True)
        .distinct()
    )
    return list(days)


def inference_log_archive(*, now: datetime | None = None, max_batches: int = 1000) -> ArchiveResult:
    """Archive rows older than the retention to Parquet by day and delete them in batches."""
    cutoff = retention_cutoff(now=now)
    size = settings.INFERENCE_ARCHIVE_BATCH_ROWS
    files = rows_done = 0
    days: list[str] = []
    for day in _old_days(cutoff):
        if files >= max_batches:
            break  # the next scheduled run continues; each run's work stays bounded
        start, end = _day_bounds(day)
        old = InferenceLog.objects.filter(created_at__gte=start, created_at__lt=min(end, cutoff))
        while files < max_batches:
            batch = _batch_read(old, size)
            if not batch:
                break
            relative, sha256 = _batch_write(batch, day)
            ids = [row["id"] for row in batch]
            with transaction.atomic():
                InferenceArchive.objects.update_or_create(
                    path=str(relative),
                    defaults={
                        "day": day,
                        "rows": len(batch),
                        "first_id": ids[0],
                        "last_id": ids[-1],
                        "sha256": sha256,
                    },
                )
                InferenceLog.objects.filter(id__in=ids).delete()
            files, rows_done = files + 1, rows_done + len(batch)
        days.append(day.isoformat())
    if rows_done:
        logger.info("archived %d inference rows in %d files (before %s)", rows_done, files, cutoff)
    return ArchiveResult(cutoff=cutoff, files=files, rows=rows_done, days=days)


def inference_archive_rows(archive: InferenceArchive) -> list[ArchiveRow]:
    """The rows of one archive file, checksum-verified (for audits, tests and the lineage page)."""
    path = settings.VAR_DIR / archive.path
    if hashlib.sha256(path.read_bytes()).hexdigest() != archive.sha256:
        raise ValueError(f"{archive.path}: checksum mismatch")
    rows: list[ArchiveRow] = pq.read_table(path).to_pylist()
    return rows
