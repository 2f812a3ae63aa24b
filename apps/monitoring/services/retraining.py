"""Drift-triggered retraining: current data plus freshly labelled traffic, a new data version."""

import csv
import logging
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from django.conf import settings

from apps.core.features import LABEL
from apps.monitoring.models import DriftReport
from apps.serving.models import InferenceLog
from apps.training.models import DataVersion, TrainingRun
from apps.training.selectors.data_versions import data_version_current
from apps.training.services.data_versions import (
    TrainingDataError,
    data_version_ingest_path,
    data_version_path,
)
from apps.training.services.training_runs import TrainingRefused, training_run_enqueue

logger = logging.getLogger(__name__)

REQUEST_ID_COLUMN = "InferenceRequestId"


def _retrain_wanted(verdict: str) -> bool:
    if settings.DRIFT_RETRAIN_ON == "off":
        return False
    if settings.DRIFT_RETRAIN_ON == "warning":
        return verdict in (DriftReport.Verdict.WARNING, DriftReport.Verdict.CRITICAL)
    return verdict == DriftReport.Verdict.CRITICAL


def _cooldown_note(now: datetime) -> str:
    cutoff = now - timedelta(minutes=settings.RETRAIN_COOLDOWN_MINUTES)
    recent = (
        TrainingRun.objects.filter(trigger=TrainingRun.Trigger.DRIFT, created_at__gt=cutoff)
        .order_by("-created_at")
        .first()
    )
    if recent is None:
        return ""
    until = recent.created_at + timedelta(minutes=settings.RETRAIN_COOLDOWN_MINUTES)
    return (
        f"refused: cooldown after drift retrain run {recent.pk} "
        f"({recent.created_at:%Y-%m-%d %H:%M:%S} UTC); next allowed after {until:%H:%M:%S}"
    )


def drift_retrain_trigger(*, report: DriftReport) -> DriftReport:
    """Start a retrain on current data + fresh labels unless policy, cooldown or a run says no."""
    if not _retrain_wanted(report.verdict):
        note = f"no retrain: DRIFT_RETRAIN_ON={settings.DRIFT_RETRAIN_ON}"
    elif note := _cooldown_note(report.created_at):
        pass
    elif TrainingRun.objects.filter(active=True).exists():
        note = "refused: a training job is already queued or running"
    else:
        try:
            data_version, added = labelled_data_version_create(note=f"drift report {report.pk}")
            run = training_run_enqueue(trigger=TrainingRun.Trigger.DRIFT, data_version=data_version)
            report.retrain_run = run
            note = (
                f"retrain started: run {run.pk} on data version {data_version.pk} "
                f"(+{added} labelled inference rows)"
            )
        except (TrainingRefused, TrainingDataError, LabelsMissing) as exc:
            note = f"refused: {exc}"
    report.retrain_note = note
    report.save(update_fields=["retrain_run", "retrain_note"])
    logger.info("drift report %s: %s", report.pk, note)
    return report


class LabelsMissing(Exception):
    """No inference row has received a true label since the current data version."""


def _known_request_ids(path: Path) -> tuple[list[str], set[str]]:
    """The file's header and the inference request ids already in it (one streaming pass)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if REQUEST_ID_COLUMN not in header:
            return header, set()
        position = header.index(REQUEST_ID_COLUMN)
        # Memory grows with the labelled rows ever appended, not with the data set.
        return header, {row[position] for row in reader if len(row) > position and row[position]}


def _copy_with_column(source: Path, out: TextIO) -> list[str]:
    """Copy `source` to `out` adding an empty request-id column, row by row."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        writer = csv.writer(out, lineterminator="\n")
        header = [*next(reader), REQUEST_ID_COLUMN]
        writer.writerow(header)
        for row in reader:
            if any(cell.strip() for cell in row):
                writer.writerow([*row, ""])
    return header


def _copy_bytes(source: Path, out: TextIO) -> None:
    """Copy `source` to `out` unchanged in 1 MiB chunks, ending on a line break."""
    out.flush()
    last = b"\n"
    with source.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            out.buffer.write(chunk)  # type: ignore[attr-defined]
            last = chunk[-1:]
    if last not in (b"\n", b"\r"):
        out.buffer.write(b"\n")  # type: ignore[attr-defined]
    out.buffer.flush()  # type: ignore[attr-defined]


def _labelled_row(header: list[str], log: InferenceLog) -> list[str]:
    values = {**log.features(), LABEL.name: log.true_label, REQUEST_ID_COLUMN: log.request_id}
    return ["" if values.get(name) is None else str(values[name]) for name in header]


def _no_labels_message(current: DataVersion) -> str:
    return (
        f"no inference row received a true label since data version {current.pk}; "
        "retraining on unchanged data would change nothing"
    )


def labelled_data_version_create(*, note: str) -> tuple[DataVersion, int]:
    """Current data + every labelled inference row not already in it, as a new DVC version."""
    current = data_version_current()
    if current is None:
        raise LabelsMissing("there is no current data version to extend")
    labelled = InferenceLog.objects.filter(true_label__isnull=False).order_by("id")
    if not labelled.exists():
        raise LabelsMissing(_no_labels_message(current))
    source = data_version_path(current)
    header, known = _known_request_ids(source)
    staging_dir = settings.VAR_DIR / "incoming"
    staging_dir.mkdir(parents=True, exist_ok=True)
    # Current file copied as it is (or row by row when it gains the request-id column), then the
    # fresh labelled rows appended: no Python process ever holds the data set.
    with tempfile.NamedTemporaryFile(
        "w", dir=staging_dir, suffix=".csv", encoding="utf-8", newline=""
    ) as out:
        if REQUEST_ID_COLUMN in header:
            _copy_bytes(source, out)
        else:
            header = _copy_with_column(source, out)
        writer = csv.writer(out, lineterminator="\n")
        added = 0
        for log in labelled.iterator(chunk_size=2000):
            if str(log.request_id) not in known:
                writer.writerow(_labelled_row(header, log))
                added += 1
        out.flush()
        if not added:
            raise LabelsMissing(_no_labels_message(current))
        result = data_version_ingest_path(
            path=Path(out.name),
            parent=current,
            labelled_rows_added=added,
            source=f"{note}: data v{current.pk} + {added} labelled inference rows",
        )
    return result.data_version, added
