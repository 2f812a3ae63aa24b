"""Training runs: request (single flight), enqueue, execute in the worker, finish or fail."""

import dataclasses
import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from apps.training.models import DataVersion, TrainingRun
from apps.training.params import ParamsError, TrainingParams, load_params, parse_families
from apps.training.selectors.data_versions import data_version_current
from apps.training.services.data_versions import TrainingDataError, data_version_recover
from apps.training.services.recovery import training_run_reap

logger = logging.getLogger(__name__)


class TrainingRefused(Exception):
    """A training job cannot start now (another one is active, or the request is invalid)."""


def _training_params(profile: str) -> TrainingParams:
    try:
        return load_params(settings.TRAINING_PARAMS_FILE, profile)
    except ParamsError as exc:
        raise TrainingRefused(str(exc)) from None


def params_fingerprint(profile: str, families: list[str], params: TrainingParams) -> str:
    """A hash of what a run trains with besides the data: profile, families and the grid."""
    document = {"profile": profile, "families": families, "params": dataclasses.asdict(params)}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def _refuse_unchanged(data_version: DataVersion, fingerprint: str) -> None:
    same = (
        TrainingRun.objects.filter(
            data_version=data_version,
            params_sha256=fingerprint,
            status=TrainingRun.Status.SUCCEEDED,
        )
        .order_by("-id")
        .first()
    )
    if same is not None:
        raise TrainingRefused(
            f"data v{data_version.pk} was already trained with these parameters in training run "
            f"{same.pk}; a new run would register an identical model. Ingest new data, change "
            'the parameters, or ask again with force (`--force`, `"force": true` in the API, '
            "or the Runs page's box) to retrain anyway"
        )


def training_run_request(
    *,
    profile: str | None = None,
    families: str | list[str] | None = None,
    trigger: str = TrainingRun.Trigger.CLI,
    user: Any = None,
    data_version: DataVersion | None = None,
    force: bool = True,
) -> TrainingRun:
    """Create a queued TrainingRun; refuse while one is active, or (without `force`) a repeat."""
    profile = profile or settings.TRAINING_PROFILE
    try:
        chosen = parse_families(families)
    except ParamsError as exc:
        raise TrainingRefused(str(exc)) from None
    params = _training_params(profile)
    data_version_recover()  # an interrupted ingest is finished or undone before data is read
    data_version = data_version or data_version_current()
    if data_version is None:
        raise TrainingDataError("there is no data version yet: run `manage.py ingest_data` first")
    fingerprint = params_fingerprint(profile, chosen, params)
    if not force:
        _refuse_unchanged(data_version, fingerprint)
    training_run_reap(check_alias=False)  # a job known dead must not block this one
    try:
        with transaction.atomic():
            return TrainingRun.objects.create(
                profile=profile,
                families=chosen,
                data_version=data_version,
                trigger=trigger,
                requested_by=user if getattr(user, "pk", None) else None,
                progress_total=params.total_points(chosen),
                params_sha256=fingerprint,
            )
    except IntegrityError:
        active = TrainingRun.objects.filter(active=True).first()
        detail = f"training run {active.pk} is {active.status}" if active else "one is active"
        raise TrainingRefused(
            f"a training job is already in progress ({detail}); wait for it to finish"
        ) from None


def training_run_enqueue(**request: Any) -> TrainingRun:
    """Request a run and hand it to the django-q2 worker by dotted path."""
    run = training_run_request(**request)
    async_task("apps.training.tasks.training_run_task", run.pk, task_name=f"training-run-{run.pk}")
    return run


def _training_run_finish(run: TrainingRun, *, status: str, error: str = "") -> None:
    run.status, run.error, run.active = status, error[:10000], None
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "active", "finished_at"])
