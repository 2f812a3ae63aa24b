import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone

from apps.monitoring import psi
from apps.monitoring.models import DriftBaseline, DriftReport, NoiseFloor
from apps.monitoring.simulation import SimulationResult, sample_passengers, traffic_send
from apps.serving.models import InferenceLog
from apps.training.models import DataVersion, ModelVersion, TrainingRun

logger = logging.getLogger(__name__)

# Inference-log column of each feature (the log stores features as typed columns).
COLUMNS = {
    "Pclass": "pclass",
    "Sex": "sex",
    "Age": "age",
    "SibSp": "sibsp",
    "Parch": "parch",
    "Fare": "fare",
    "Embarked": "embarked",
}
REQUEST_ID_COLUMN = "InferenceRequestId"


# --- baselines ----------------------------------------------------------------------------


def drift_baseline_create(
    *, model_version: ModelVersion, rows: list[dict[str, Any]]
) -> DriftBaseline:
    """Bin the version's training rows (deciles / levels + OTHER + MISSING) and store them."""
    baseline = psi.build_baseline(psi.rows_to_columns(rows))
    return DriftBaseline.objects.update_or_create(
        model_version=model_version, defaults={"baseline": baseline, "rows": len(rows)}
    )[0]


def drift_baseline_publish(*, model_version: ModelVersion) -> None:
    """Write the champion's baseline to data/drift_baseline_titanic.json (standard JSON)."""
    found = DriftBaseline.objects.filter(model_version=model_version).first()
    if found is None:
        return
    document = {"model_version": model_version.version, **found.baseline}
    path = settings.DATA_DIR / settings.DRIFT_BASELINE_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".incoming")
    staging.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False))
    staging.replace(path)


def _noise_floors(baseline: DriftBaseline, rows: int) -> dict[str, float]:
    cached = NoiseFloor.objects.filter(baseline=baseline, window_rows=rows).first()
    if cached:
        return cached.floors
    floors = {
        name: float(value) for name, value in psi.noise_floors(baseline.baseline, rows).items()
    }
    NoiseFloor.objects.get_or_create(
        baseline=baseline, window_rows=rows, defaults={"floors": floors}
    )
    return floors


# --- windows, aggregated in the database ------------------------------------------------


def _bin_case(name: str, feature: psi.FeatureBaseline) -> Case:
    """The psi module's bin rule as SQL: CASE WHEN ... THEN bin index END."""
    column = COLUMNS[name]
    size = psi.bin_count(feature)
    missing = When(**{f"{column}__isnull": True}, then=Value(size - 1))
    if feature["kind"] == "numeric":
        edges = feature["edges"]
        whens = [When(**{f"{column}__lte": edge}, then=Value(i)) for i, edge in enumerate(edges)]
        return Case(missing, *whens, default=Value(len(edges)), output_field=IntegerField())
    levels = feature["levels"]
    typed = [int(level) if name == "Pclass" else level for level in levels]
    whens = [When(**{column: level}, then=Value(j)) for j, level in enumerate(typed)]
    return Case(missing, *whens, default=Value(len(levels)), output_field=IntegerField())


def window_counts(
    baseline: psi.Baseline, *, version: int, start: datetime, end: datetime
) -> tuple[int, dict[str, np.ndarray]]:
    """Bin counts per feature of the logged rows in (start, end], one GROUP BY per feature."""
    rows = InferenceLog.objects.filter(
        model_version=version, created_at__gt=start, created_at__lte=end
    )
    counts: dict[str, np.ndarray] = {}
    total = 0
    for name, feature in baseline["features"].items():
        grouped = rows.annotate(drift_bin=_bin_case(name, feature)).values("drift_bin")
        histogram = np.zeros(psi.bin_count(feature), dtype=np.int64)
        for item in grouped.annotate(n=Count("id")).order_by():
            histogram[item["drift_bin"]] = item["n"]
        counts[name] = histogram
        total = int(histogram.sum())
    return total, counts


def _window(champion: ModelVersion, now: datetime) -> tuple[datetime, datetime]:
    """From the end of the last conclusive check (or the promotion), at most DRIFT_WINDOW_HOURS."""
    earliest = now - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    previous = (
        DriftReport.objects.filter(model_version=champion.version)
        .exclude(verdict__in=[DriftReport.Verdict.INSUFFICIENT, DriftReport.Verdict.ERROR])
        .order_by("-window_end")
        .first()
    )
    start = previous.window_end if previous else (champion.champion_since or earliest)
    return max(start, earliest), now


# --- the check ----------------------------------------------------------------------------


def _features_document(
    baseline: psi.Baseline, counts: dict[str, np.ndarray], result: psi.DriftResult
) -> dict[str, Any]:
    by_name = {item.feature: item for item in result.features}
    document = {}
    for name, feature in baseline["features"].items():
        observed = counts[name]
        total = max(int(observed.sum()), 1)
        item = by_name.get(name)
        document[name] = {
            "psi": item.psi if item else None,
            "floor": item.floor if item else None,
            "drifted": bool(item and item.drifted),
            "labels": feature["labels"],
            "expected": feature["proportions"],
            "actual": (observed / total).tolist(),
            "counts": observed.tolist(),
        }
    return document


def drift_report_create(*, trigger: str = "manual", now: datetime | None = None) -> DriftReport:
    """Check the champion's recent traffic for drift, record a DriftReport, maybe retrain."""
    now = now or timezone.now()
    thresholds = {
        "threshold": settings.PSI_THRESHOLD,
        "critical": settings.PSI_CRITICAL,
        "min_rows": settings.MIN_INFER_ROWS,
    }
    champion = ModelVersion.objects.filter(is_champion=True).first()
    baseline = DriftBaseline.objects.filter(model_version=champion).first() if champion else None
    if champion is None or baseline is None:
        return DriftReport.objects.create(
            window_start=now,
            window_end=now,
            verdict=DriftReport.Verdict.INSUFFICIENT,
            thresholds=thresholds,
            trigger=trigger,
            error="no champion with a drift baseline yet: nothing to compare with",
        )
    start, end = _window(champion, now)
    rows, counts = window_counts(baseline.baseline, version=champion.version, start=start, end=end)
    floors = _noise_floors(baseline, rows) if rows >= settings.MIN_INFER_ROWS else {}
    result = psi.drift_evaluate(
        baseline.baseline,
        counts,
        threshold=settings.PSI_THRESHOLD,
        critical=settings.PSI_CRITICAL,
        min_rows=settings.MIN_INFER_ROWS,
        floors=floors or None,
    )
    report = DriftReport.objects.create(
        window_start=start,
        window_end=end,
        rows=rows,
        model_version=champion.version,
        verdict=result.verdict,
        max_psi=result.max_psi,
        thresholds=thresholds,
        trigger=trigger,
        features=_features_document(baseline.baseline, counts, result),
    )
    if report.drifted:
        drift_retrain_trigger(report=report)
    return report


# --- the loop: retrain on fresh labels ---------------------------------------------------


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
    from apps.training.services import TrainingDataError, TrainingRefused, training_run_enqueue

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
    values = {
        "Survived": log.true_label,
        "Pclass": log.pclass,
        "Sex": log.sex,
        "Age": log.age,
        "SibSp": log.sibsp,
        "Parch": log.parch,
        "Fare": log.fare,
        "Embarked": log.embarked,
        REQUEST_ID_COLUMN: log.request_id,
    }
    return ["" if values.get(name) is None else str(values[name]) for name in header]


def _no_labels_message(current: DataVersion) -> str:
    return (
        f"no inference row received a true label since data version {current.pk}; "
        "retraining on unchanged data would change nothing"
    )


def labelled_data_version_create(*, note: str) -> tuple[DataVersion, int]:
    """Current data + every labelled inference row not already in it, as a new DVC version."""
    from apps.training.selectors import data_version_current
    from apps.training.services import data_version_bytes, data_version_ingest

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
    )
    return result.data_version, len(fresh)


DRIFT_SCHEDULE = "titanic-drift-check"


def schedules_setup() -> list[str]:
    """Upsert the named schedules; running it twice changes nothing the second time."""
    from django_q.models import Schedule

    wanted = {
        "func": "apps.monitoring.tasks.drift_check_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": settings.DRIFT_CHECK_MINUTES,
        "repeats": -1,
    }
    schedule, created = Schedule.objects.get_or_create(name=DRIFT_SCHEDULE, defaults=wanted)
    changed = [key for key, value in wanted.items() if getattr(schedule, key) != value]
    for key in changed:
        setattr(schedule, key, wanted[key])
    if changed:
        schedule.save()
    state = "created" if created else ("updated " + ", ".join(changed) if changed else "unchanged")
    return [f"schedule {DRIFT_SCHEDULE}: every {settings.DRIFT_CHECK_MINUTES} min ({state})"]


SIMULATOR_USERNAME = "traffic-simulator"


def traffic_simulate(
    *, rows: int, shift: str, with_labels: bool, base_url: str, seed: int
) -> SimulationResult:
    """Replay labelled rows of the current data version against a running server."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from apps.training.contract import parse_dataset
    from apps.training.selectors import data_version_current
    from apps.training.services import data_version_bytes

    current = data_version_current()
    if current is None:
        raise ValueError("there is no data version to sample passengers from")
    source = parse_dataset(data_version_bytes(current)).rows
    token = ""
    if with_labels:
        user, _ = get_user_model().objects.get_or_create(username=SIMULATOR_USERNAME)
        token = Token.objects.get_or_create(user=user)[0].key
    passengers = sample_passengers(source, rows, shift=shift, seed=seed)
    return traffic_send(passengers, base_url=base_url, token=token, with_labels=with_labels)
