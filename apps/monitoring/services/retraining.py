"""Drift-triggered retraining: current data plus freshly labelled traffic, a new data version."""

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.core.features import LABEL
from apps.monitoring.models import DriftReport
from apps.serving.models import InferenceLog, LabelProvenance
from apps.training.models import DataVersion, TrainingRun
from apps.training.selectors.data_versions import data_version_current
from apps.training.services.data_versions import (
    TrainingDataError,
    data_version_bytes,
    data_version_ingest,
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


@dataclass(frozen=True)
class _Table:
    header: list[str]
    rows: list[list[str]]


def _read_table(data: bytes) -> _Table:
    records = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, rows = records[0], [row for row in records[1:] if any(cell.strip() for cell in row)]
    if REQUEST_ID_COLUMN not in header:
        header = [*header, REQUEST_ID_COLUMN]
        rows = [[*row, ""] for row in rows]
    return _Table(header, rows)


def _labelled_row(header: list[str], log: InferenceLog) -> list[str]:
    values = {**log.features(), LABEL.name: log.true_label, REQUEST_ID_COLUMN: log.request_id}
    return ["" if values.get(name) is None else str(values[name]) for name in header]


def _no_labels_message(current: DataVersion) -> str:
    return (
        f"no inference row received a true label since data version {current.pk}; "
        "retraining on unchanged data would change nothing"
    )


UNKNOWN_LABELLER = "(unrecorded: labelled before provenance)"


def label_sources(rows: list[InferenceLog], *, base: DataVersion) -> list[dict[str, Any]]:
    """Who gave the new rows their labels: per labeller and channel, count and label balance.

    The balance is set against the base data's survival rate, so a labeller whose rows lean far
    from it stands out on the Data page (and to the gate that reads these entries).
    """
    provenance = {
        p.inference_id: p
        for p in LabelProvenance.objects.filter(inference_id__in=[row.pk for row in rows])
    }
    groups: dict[tuple[str, str], list[InferenceLog]] = defaultdict(list)
    for row in rows:
        given = provenance.get(row.pk)
        key = (given.labelled_by_name, given.labelled_via) if given else (UNKNOWN_LABELLER, "")
        groups[key].append(row)
    sources = []
    for (labeller, via), group in sorted(groups.items(), key=lambda item: -len(item[1])):
        positives = sum(int(row.true_label or 0) for row in group)
        rate = positives / len(group)
        stamps = [row.labelled_at for row in group if row.labelled_at is not None]
        sources.append(
            {
                "kind": "labels",
                "labeller": labeller,
                "via": via,
                "rows": len(group),
                "positives": positives,
                "positive_rate": round(rate, 4),
                "base_positive_rate": round(base.positive_rate, 4),
                "positive_rate_delta": round(rate - base.positive_rate, 4),
                "first_labelled_at": min(stamps).isoformat() if stamps else None,
                "last_labelled_at": max(stamps).isoformat() if stamps else None,
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
    table = _read_table(data_version_bytes(current))
    position = table.header.index(REQUEST_ID_COLUMN)
    known = {row[position] for row in table.rows if len(row) > position and row[position]}
    fresh = [log for log in labelled if str(log.request_id) not in known]
    if not fresh:
        raise LabelsMissing(_no_labels_message(current))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    writer.writerows(table.rows)
    writer.writerows(_labelled_row(table.header, log) for log in fresh)
    result = data_version_ingest(
        data=out.getvalue().encode(),
        parent=current,
        labelled_rows_added=len(fresh),
        source=f"{note}: data v{current.pk} + {len(fresh)} labelled inference rows",
        sources=label_sources(fresh, base=current),
    )
    return result.data_version, len(fresh)
