"""Reads of training runs: lists, the active job's progress, one run's results by family."""

from collections.abc import Mapping
from typing import Any

import yaml
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from apps.training.models import TrainingRun
from apps.training.params import FAMILIES
from apps.training.results import FamilyResult

RUNS_PER_PAGE = 25


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


def training_run_phase(run: TrainingRun | None) -> dict[str, Any] | None:
    """What the active job does now and for how long it has run (beside its progress)."""
    if run is None:
        return None
    elapsed = (timezone.now() - run.started_at).total_seconds() if run.started_at else None
    return {
        "phase": run.phase or ("waiting for the worker" if run.status == "queued" else ""),
        "elapsed_seconds": round(elapsed) if elapsed is not None else None,
    }


def training_run_page(number: str | None) -> Page:
    return Paginator(_runs_light(), RUNS_PER_PAGE).get_page(number)


def training_run_get(run_id: int) -> TrainingRun | None:
    return (
        TrainingRun.objects.select_related("data_version", "requested_by").filter(pk=run_id).first()
    )


def training_run_families(run: TrainingRun) -> dict[str, FamilyResult]:
    """The finished families of a run in canonical order, each with a results dict."""
    results = run.results or {}
    ordered = [family for family in FAMILIES if family in results]
    ordered += [family for family in results if family not in FAMILIES]
    return {family: results[family] for family in ordered if isinstance(results[family], dict)}


def training_run_metric_table(families: Mapping[str, FamilyResult]) -> list[dict[str, Any]]:
    """One row per metric, one cell per family; the best AUC cell is marked."""
    rows = []
    for key, label in RUN_METRICS:
        cells = []
        for result in families.values():
            value = result.get("metrics", {}).get(key, result.get(key))
            cells.append(value if isinstance(value, int | float) else None)
        rows.append({"key": key, "label": label, "cells": cells})
    return rows
