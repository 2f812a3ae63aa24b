"""Drift-triggered retraining: current data plus freshly labelled traffic, a new data version."""

import csv
import logging
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from apps.core.features import LABEL
from apps.monitoring.models import DriftReport
from apps.serving.models import InferenceLog, LabelProvenance
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


def _copy_with_column(source: Path, target: Path) -> list[str]:
    """Copy `source` to `target` adding an empty request-id column, row by row."""
    with (
        source.open(encoding="utf-8-sig", newline="") as handle,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.reader(handle)
        writer = csv.writer(out, lineterminator="\n")
        header = [*next(reader), REQUEST_ID_COLUMN]
        writer.writerow(header)
        for row in reader:
            if any(cell.strip() for cell in row):
                writer.writerow([*row, ""])
    return header


def _copy_bytes(source: Path, target: Path) -> None:
    """Copy `source` to `target` unchanged (a streamed file copy), ending on a line break."""
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) not in (b"\n", b"\r"):
            handle.write(b"\n")


def _labelled_row(header: list[str], log: InferenceLog) -> list[str]:
    values = {**log.features(), LABEL.name: log.true_label, REQUEST_ID_COLUMN: log.request_id}
    return ["" if values.get(name) is None else str(values[name]) for name in header]


def _no_labels_message(current: DataVersion) -> str:
    return (
        f"no inference row received a true label since data version {current.pk}; "
        "retraining on unchanged data would change nothing"
    )


UNKNOWN_LABELLER = "(unrecorded: labelled before provenance)"


# Labelled rows read from the database at a time while a retrain appends them.
LABELLED_BATCH_ROWS = 2000


@dataclass
class _Tally:
    """One labeller's (and channel's) share of the appended rows, counted as they stream by."""

    rows: int = 0
    positives: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, row: InferenceLog) -> None:
        self.rows += 1
        self.positives += int(row.true_label or 0)
        stamp = row.labelled_at
        if stamp is not None:
            self.first = stamp if self.first is None else min(self.first, stamp)
            self.last = stamp if self.last is None else max(self.last, stamp)


def _batches(rows: QuerySet[InferenceLog], size: int) -> Iterator[list[InferenceLog]]:
    iterator = rows.iterator(chunk_size=size)
    while batch := list(islice(iterator, size)):
        yield batch


def _tally_add(tallies: dict[tuple[str, str], _Tally], rows: list[InferenceLog]) -> None:
    """Count `rows` under their labeller and channel (one provenance query per batch)."""
    provenance = {
        p.inference_id: p
        for p in LabelProvenance.objects.filter(inference_id__in=[row.pk for row in rows])
    }
    for row in rows:
        given = provenance.get(row.pk)
        key = (given.labelled_by_name, given.labelled_via) if given else (UNKNOWN_LABELLER, "")
        tallies[key].add(row)


def label_sources(
    tallies: dict[tuple[str, str], _Tally], *, base: DataVersion
) -> list[dict[str, Any]]:
    """Who gave the new rows their labels: per labeller and channel, count and label balance.

    The balance is set against the base data's survival rate, so a labeller whose rows lean far
    from it stands out on the Data page (and to the gate that reads these entries).
    """
    sources = []
    for (labeller, via), tally in sorted(tallies.items(), key=lambda item: -item[1].rows):
        rate = tally.positives / tally.rows
        sources.append(
            {
                "kind": "labels",
                "labeller": labeller,
                "via": via,
                "rows": tally.rows,
                "positives": tally.positives,
                "positive_rate": round(rate, 4),
                "base_positive_rate": round(base.positive_rate, 4),
                "positive_rate_delta": round(rate - base.positive_rate, 4),
                "first_labelled_at": tally.first.isoformat() if tally.first else None,
                "last_labelled_at": tally.last.isoformat() if tally.last else None,
            }
        )
    return sources


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
    # fresh labelled rows appended in batches: no Python process ever holds the data set.
    with tempfile.TemporaryDirectory(dir=staging_dir) as work:
        target = Path(work) / "data.csv"
        if REQUEST_ID_COLUMN in header:
            _copy_bytes(source, target)
        else:
            header = _copy_with_column(source, target)
        tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
        with target.open("a", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            for batch in _batches(labelled, LABELLED_BATCH_ROWS):
                fresh = [log for log in batch if str(log.request_id) not in known]
                writer.writerows(_labelled_row(header, log) for log in fresh)
                _tally_add(tallies, fresh)
        added = sum(tally.rows for tally in tallies.values())
        if not added:
            raise LabelsMissing(_no_labels_message(current))
        result = data_version_ingest_path(
            path=target,
            parent=current,
            labelled_rows_added=added,
            source=f"{note}: data v{current.pk} + {added} labelled inference rows",
            sources=label_sources(tallies, base=current),
        )
    return result.data_version, added
