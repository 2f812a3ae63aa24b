"""Read-only queries of the dashboard's training, model and data pages (bounded query counts)."""

from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, QuerySet

from apps.serving.models import InferenceLog
from apps.training.contract import REQUIRED_COLUMNS
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)
from apps.training.params import FAMILIES
from apps.training.selectors import model_version_previous_champion

RUNS_PER_PAGE = 25
EVENTS_PER_PAGE = 20
MODELS_PER_PAGE = 50
# Per-family metrics shown in the run detail table, in this order.
RUN_METRICS = (
    ("eval_auc", "AUC"),
    ("eval_accuracy", "accuracy"),
    ("eval_precision_0", "precision 0"),
    ("eval_recall_0", "recall 0"),
    ("eval_f1_0", "F1 0"),
    ("eval_precision_1", "precision 1"),
    ("eval_recall_1", "recall 1"),
    ("eval_f1_1", "F1 1"),
    ("best_validation_auc", "best validation AUC"),
    ("search_seconds", "search (s)"),
    ("wall_seconds", "wall (s)"),
    ("peak_rss_driver_mb", "driver RSS (MB)"),
    ("peak_rss_jvm_mb", "JVM RSS (MB)"),
    ("peak_rss_total_mb", "total RSS (MB)"),
    ("mean_cpu_percent", "mean CPU (%)"),
)


def training_profiles() -> list[str]:
    """Profile names of params.yaml (the choices of the Retrain now form)."""
    document = yaml.safe_load(settings.TRAINING_PARAMS_FILE.read_text()) or {}
    return list(document.get("profiles", {})) or [settings.TRAINING_PROFILE]


def training_families() -> tuple[str, ...]:
    return FAMILIES


def champion_detail() -> ModelVersion | None:
    """The champion with its data version and training run (one query)."""
    return (
        ModelVersion.objects.select_related("data_version", "training_run")
        .filter(is_champion=True)
        .first()
    )


def _runs_light() -> QuerySet[TrainingRun]:
    # results holds curves and scores per family: never load it for lists.
    return TrainingRun.objects.select_related("data_version", "requested_by").defer("results")


def training_run_active() -> TrainingRun | None:
    return _runs_light().filter(active=True).first()


def training_run_progress(run: TrainingRun | None) -> dict[str, Any] | None:
    """The JSON the overview polls while a job is queued or running."""
    if run is None:
        return None
    total = run.progress_total or 0
    done = min(run.progress_done, total) if total else run.progress_done
    return {
        "id": run.pk,
        "status": run.status,
        "profile": run.profile,
        "families": run.families,
        "done": done,
        "total": total,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
    }


def promotion_pending_count() -> int:
    return PromotionRequest.objects.filter(status=PromotionRequest.Status.PENDING).count()


def training_run_page(number: str | None) -> Page:
    return Paginator(_runs_light(), RUNS_PER_PAGE).get_page(number)


def training_run_get(run_id: int) -> TrainingRun | None:
    return (
        TrainingRun.objects.select_related("data_version", "requested_by").filter(pk=run_id).first()
    )


def training_run_families(run: TrainingRun) -> dict[str, dict[str, Any]]:
    """The finished families of a run in canonical order, each with a results dict."""
    results = run.results or {}
    ordered = [family for family in FAMILIES if family in results]
    ordered += [family for family in results if family not in FAMILIES]
    return {family: results[family] for family in ordered if isinstance(results[family], dict)}


def training_run_metric_table(families: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per metric, one cell per family; the best AUC cell is marked."""
    rows = []
    for key, label in RUN_METRICS:
        cells = []
        for result in families.values():
            value = result.get("metrics", {}).get(key, result.get(key))
            cells.append(value if isinstance(value, int | float) else None)
        rows.append({"key": key, "label": label, "cells": cells})
    return rows


def model_versions_of_run(run: TrainingRun) -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(training_run=run))


def model_version_page(number: str | None) -> Page:
    """Every version with its data version and whether it holds the challenger alias."""
    pending = PromotionRequest.objects.filter(
        model_version=OuterRef("pk"), status=PromotionRequest.Status.PENDING
    )
    versions = ModelVersion.objects.select_related("data_version").annotate(
        is_challenger=Exists(pending)
    )
    return Paginator(versions, MODELS_PER_PAGE).get_page(number)


@dataclass
class PendingDecision:
    """A candidate waiting for approval, beside the champion it was judged against."""

    request: PromotionRequest
    candidate: ModelVersion
    evidence: dict[str, Any]
    gate_champion_version: int | None
    current_champion: ModelVersion | None
    class_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def champion_changed(self) -> bool:
        current = self.current_champion.version if self.current_champion else None
        return current != self.gate_champion_version


def _class_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    candidate = ((evidence.get("candidate") or {}).get("metrics") or {}).get("per_class", {})
    champion = ((evidence.get("champion") or {}).get("metrics") or {}).get("per_class", {})
    rows = []
    for name in sorted(set(candidate) | set(champion)):
        for metric in ("precision", "recall", "f1"):
            new = candidate.get(name, {}).get(metric)
            old = champion.get(name, {}).get(metric)
            change = new - old if new is not None and old is not None else None
            rows.append(
                {"cls": name, "metric": metric, "candidate": new, "champion": old, "change": change}
            )
    return rows


def promotion_pending_decisions(champion: ModelVersion | None) -> list[PendingDecision]:
    requests = PromotionRequest.objects.select_related(
        "model_version", "model_version__data_version"
    ).filter(status=PromotionRequest.Status.PENDING)
    decisions = []
    for request in requests:
        evidence = request.model_version.gate_evidence or request.evidence or {}
        decisions.append(
            PendingDecision(
                request=request,
                candidate=request.model_version,
                evidence=evidence,
                gate_champion_version=evidence.get("champion_version"),
                current_champion=champion,
                class_rows=_class_rows(evidence),
            )
        )
    return decisions


def promotion_event_page(number: str | None) -> Page:
    return Paginator(PromotionEvent.objects.all(), EVENTS_PER_PAGE).get_page(number)


def rollback_plan() -> tuple[ModelVersion | None, ModelVersion | None]:
    """(current champion, the version a rollback would return to)."""
    return champion_detail(), model_version_previous_champion()


def _traffic_by_version(versions: list[int]) -> dict[int, int]:
    served = (
        InferenceLog.objects.filter(model_version__in=versions)
        .values("model_version")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {item["model_version"]: item["n"] for item in served}


@dataclass
class DataVersionRow:
    data_version: DataVersion
    run_count: int
    models: list[ModelVersion]
    served: int
    missing: list[dict[str, Any]]


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
        )
        for dv in data_versions
    ]


@dataclass
class LineageRun:
    run: TrainingRun
    models: list[dict[str, Any]]


def data_version_get(data_version_id: int) -> DataVersion | None:
    return DataVersion.objects.select_related("parent").filter(pk=data_version_id).first()


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


def data_version_children(data_version: DataVersion) -> list[DataVersion]:
    return list(DataVersion.objects.filter(parent=data_version))
