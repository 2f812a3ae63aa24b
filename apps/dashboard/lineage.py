"""Lineage across the floors: data version -> runs -> model versions -> decisions -> traffic."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from apps.core.features import REQUIRED_COLUMNS
from apps.serving.models import InferenceLog
from apps.training.models import DataVersion, ModelVersion, PromotionEvent, TrainingRun


def _traffic_by_version(versions: list[int]) -> dict[int, int]:
    served = (
        InferenceLog.objects.filter(model_version__in=versions)
        .values("model_version")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {item["model_version"]: item["n"] for item in served}


def data_version_origin(data_version: DataVersion) -> list[str]:
    """Where a version's rows came from, one line per contributor (newest versions record it)."""
    lines = []
    for entry in data_version.sources or []:
        if entry.get("kind") == "labels":
            via = f" via {entry['via']}" if entry.get("via") else ""
            lines.append(
                f"{entry['rows']} labelled rows from {entry['labeller']}{via}: "
                f"{100 * entry['positive_rate']:.1f}% survived vs "
                f"{100 * entry['base_positive_rate']:.1f}% in the base data "
                f"({100 * entry['positive_rate_delta']:+.1f} points)"
            )
        elif entry.get("kind") == "upload":
            lines.append(f"uploaded by {entry.get('by', '?')} ({entry.get('name', '')})")
    return lines


@dataclass
class DataVersionRow:
    data_version: DataVersion
    run_count: int
    models: list[ModelVersion]
    served: int
    missing: list[dict[str, Any]]
    origin: list[str]


def _missing_cells(data_version: DataVersion) -> list[dict[str, Any]]:
    rows = data_version.rows or 1
    return [
        {
            "column": name,
            "count": int(data_version.missing.get(name, 0)),
            "percent": 100.0 * int(data_version.missing.get(name, 0)) / rows,
        }
        for name in REQUIRED_COLUMNS
    ]


def data_version_rows() -> list[DataVersionRow]:
    """Every data version with its runs, the versions trained on it and the traffic they served."""
    data_versions = list(
        DataVersion.objects.select_related("parent").annotate(run_count=Count("runs"))
    )
    models: dict[int, list[ModelVersion]] = {}
    for model in ModelVersion.objects.filter(data_version__in=data_versions).order_by("version"):
        models.setdefault(model.data_version_id, []).append(model)
    served = _traffic_by_version([m.version for group in models.values() for m in group])
    return [
        DataVersionRow(
            data_version=dv,
            run_count=dv.run_count,
            models=models.get(dv.pk, []),
            served=sum(served.get(m.version, 0) for m in models.get(dv.pk, [])),
            missing=_missing_cells(dv),
            origin=data_version_origin(dv),
        )
        for dv in data_versions
    ]


@dataclass
class LineageRun:
    run: TrainingRun
    models: list[dict[str, Any]]


def data_version_lineage(data_version: DataVersion) -> list[LineageRun]:
    """data version -> training runs -> model versions -> promotion events -> traffic served."""
    runs = list(
        TrainingRun.objects.filter(data_version=data_version)
        .select_related("requested_by")
        .defer("results")
    )
    models = list(ModelVersion.objects.filter(training_run__in=runs).order_by("version"))
    numbers = [m.version for m in models]
    events: dict[int, list[PromotionEvent]] = {}
    for event in PromotionEvent.objects.filter(to_version__in=numbers).order_by("id"):
        events.setdefault(event.to_version, []).append(event)  # type: ignore[arg-type]
    served = _traffic_by_version(numbers)
    by_run: dict[int, list[dict[str, Any]]] = {}
    for model in models:
        by_run.setdefault(model.training_run_id, []).append(
            {
                "model": model,
                "events": events.get(model.version, []),
                "served": served.get(model.version, 0),
            }
        )
    return [LineageRun(run=run, models=by_run.get(run.pk, [])) for run in runs]
