"""Training runs: request (single flight), enqueue, execute in the worker, finish or fail."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from apps.training.models import DataVersion, TrainingRun
from apps.training.params import ParamsError, TrainingParams, load_params, parse_families
from apps.training.selectors.data_versions import data_version_current
from apps.training.services.data_versions import DATA_FILE, TrainingDataError, data_version_copy
from apps.training.services.model_versions import model_version_register

logger = logging.getLogger(__name__)


class TrainingRefused(Exception):
    """A training job cannot start now (another one is active, or the request is invalid)."""


def _training_params(profile: str) -> TrainingParams:
    try:
        return load_params(settings.TRAINING_PARAMS_FILE, profile)
    except ParamsError as exc:
        raise TrainingRefused(str(exc)) from None


def _fail_abandoned_runs() -> None:
    """Free the single-flight slot held by a job whose process died without finishing."""
    limit = timezone.now() - timedelta(seconds=settings.TRAINING_TIMEOUT_SECONDS + 120)
    for run in TrainingRun.objects.filter(active=True):
        last_sign = run.heartbeat_at or run.created_at
        if last_sign < limit:
            _training_run_finish(
                run,
                status=TrainingRun.Status.FAILED,
                error=f"abandoned: no progress since {last_sign.isoformat()} (worker gone?)",
            )


def training_run_request(
    *,
    profile: str | None = None,
    families: str | list[str] | None = None,
    trigger: str = TrainingRun.Trigger.CLI,
    user: Any = None,
    data_version: DataVersion | None = None,
) -> TrainingRun:
    """Create a queued TrainingRun, or refuse when another one is queued or running."""
    profile = profile or settings.TRAINING_PROFILE
    try:
        chosen = parse_families(families)
    except ParamsError as exc:
        raise TrainingRefused(str(exc)) from None
    params = _training_params(profile)
    data_version = data_version or data_version_current()
    if data_version is None:
        raise TrainingDataError("there is no data version yet: run `manage.py ingest_data` first")
    _fail_abandoned_runs()
    try:
        with transaction.atomic():
            return TrainingRun.objects.create(
                profile=profile,
                families=chosen,
                data_version=data_version,
                trigger=trigger,
                requested_by=user if getattr(user, "pk", None) else None,
                progress_total=params.total_points(chosen),
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


def _progress_callbacks(run: TrainingRun, on_progress: Callable[[str], None] | None) -> Any:
    def on_point(family: str, index: int, point: dict[str, Any], auc: float) -> None:
        TrainingRun.objects.filter(pk=run.pk).update(
            progress_done=F("progress_done") + 1, heartbeat_at=timezone.now()
        )
        if on_progress:
            done = TrainingRun.objects.values_list("progress_done", flat=True).get(pk=run.pk)
            shown = " ".join(f"{k}={v}" for k, v in point.items())
            on_progress(f"[{done}/{run.progress_total}] {family} {shown}: validation AUC {auc:.4f}")

    def on_family(family: str, result: dict[str, Any]) -> None:
        run.results[family] = result
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["results", "heartbeat_at"])
        if on_progress:
            on_progress(
                f"{family}: evaluation AUC {result['metrics']['eval_auc']:.4f} "
                f"(best {result['best_params']})"
            )

    return on_point, on_family


def training_run_execute(
    *, run_id: int, on_progress: Callable[[str], None] | None = None
) -> TrainingRun:
    """Run a queued training job end to end; it ends succeeded or failed, never half-done."""
    run = TrainingRun.objects.select_related("data_version").get(pk=run_id)
    if run.status != TrainingRun.Status.QUEUED:
        raise TrainingRefused(f"training run {run.pk} is {run.status}, not queued")
    run.status, run.started_at = TrainingRun.Status.RUNNING, timezone.now()
    run.heartbeat_at = run.started_at
    run.save(update_fields=["status", "started_at", "heartbeat_at"])
    try:
        outcome = _training_job_run(run, on_progress)
    except Exception as exc:
        logger.exception("training run %s failed", run.pk)
        run.refresh_from_db(fields=["results", "mlflow_parent_run_id"])
        _training_run_finish(
            run, status=TrainingRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        return run
    run.best_family = outcome.best_family
    run.best_eval_auc = outcome.families[outcome.best_family]["metrics"]["eval_auc"]
    run.results = outcome.families
    run.save(update_fields=["best_family", "best_eval_auc", "results"])
    try:
        model_version_register(run=run, outcome=outcome)
    except Exception as exc:
        logger.exception("training run %s: registration failed", run.pk)
        _training_run_finish(
            run,
            status=TrainingRun.Status.FAILED,
            error=f"registration failed: {type(exc).__name__}: {exc}",
        )
        return run
    _training_run_finish(run, status=TrainingRun.Status.SUCCEEDED)
    return run


def _training_job_run(run: TrainingRun, on_progress: Callable[[str], None] | None) -> Any:
    work = settings.VAR_DIR / "runs" / str(run.pk)
    work.mkdir(parents=True, exist_ok=True)
    # A private copy: a concurrent ingest cannot change it under Spark.
    csv_copy = data_version_copy(run.data_version, target=work / DATA_FILE)
    from apps.training import tracking  # MLflow and plotly: only where a job runs
    from apps.training.spark.job import JobSpec, run_training_job  # Spark only in this process

    tracking.mlflow_experiment(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        experiment=settings.MLFLOW_EXPERIMENT,
        artifact_root=settings.MLFLOW_ARTIFACT_ROOT,
    )
    spec = JobSpec(
        csv_path=csv_copy,
        families=run.families,
        params=_training_params(run.profile),
        profile=run.profile,
        run_name=f"training-run-{run.pk}",
        tags={
            "training_run_id": str(run.pk),
            "data_version_id": str(run.data_version.pk),
            "data_version_md5": run.data_version.md5,
            "git_commit": tracking.git_commit(settings.BASE_DIR),
        },
        master=settings.SPARK_MASTER,
        driver_memory=settings.SPARK_DRIVER_MEMORY,
        work_dir=settings.VAR_DIR / "spark",
        parallelism=settings.TRAINING_PARALLELISM,
        evaluation_max_rows=settings.EVALUATION_MAX_ROWS,
    )
    on_point, on_family = _progress_callbacks(run, on_progress)

    def on_start(parent_run_id: str) -> None:
        run.mlflow_parent_run_id = parent_run_id
        run.save(update_fields=["mlflow_parent_run_id"])

    return run_training_job(spec, on_start=on_start, on_point=on_point, on_family=on_family)
