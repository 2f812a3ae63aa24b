"""Training jobs in the worker: run a queued job with Spark, record results, register the winner.

Web code requests and enqueues runs (`training_runs`) and never imports this module: it is the
only service that reaches the Spark package, from django-q2 tasks and management commands.
"""

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.core.crashpoints import crash_point
from apps.training.models import DataVersion, ReferenceHoldout, TrainingRun
from apps.training.params import load_params, preprocess_compression
from apps.training.results import FamilyResult, JobOutcome, Params
from apps.training.selectors.holdouts import holdout_rows_to_exclude
from apps.training.services.data_versions import DATA_FILE, data_version_copy
from apps.training.services.holdouts import HoldoutError, reference_holdout_freeze
from apps.training.services.model_versions import model_version_register
from apps.training.services.processed_data import (
    PIPELINE_PARQUET,
    ProcessedDataMissing,
    pipeline_parquet_copy,
)
from apps.training.services.recovery import worker_identity
from apps.training.services.training_runs import (
    TrainingRefused,
    _training_params,
    _training_run_finish,
)

logger = logging.getLogger(__name__)

PointCallback = Callable[[str, int, Params, float], None]
FamilyCallback = Callable[[str, FamilyResult], None]


def _phase_set(run: TrainingRun, phase: str) -> None:
    """Record what the job does now (shown with the elapsed time on the dashboard)."""
    run.phase = phase[:120]
    TrainingRun.objects.filter(pk=run.pk).update(phase=run.phase, heartbeat_at=timezone.now())


def _phase_callback(
    run: TrainingRun, on_progress: Callable[[str], None] | None
) -> Callable[[str], None]:
    def on_phase(phase: str) -> None:
        _phase_set(run, phase)
        if on_progress:
            on_progress(f"{phase}…")

    return on_phase


def _progress_callbacks(
    run: TrainingRun, on_progress: Callable[[str], None] | None
) -> tuple[PointCallback, FamilyCallback]:
    params = _training_params(run.profile)
    sizes = {family: len(params.points(family)) for family in run.families}
    finished: dict[str, int] = dict.fromkeys(run.families, 0)

    def on_point(family: str, index: int, point: Params, auc: float) -> None:
        finished[family] = finished.get(family, 0) + 1
        k, n = finished[family], sizes.get(family, 0)
        phase = f"searching {family}: point {k}/{n}"
        if k >= n:  # the search refits the best point on all training rows next
            phase = f"refitting {family}'s best point on all training rows and evaluating"
        TrainingRun.objects.filter(pk=run.pk).update(
            progress_done=F("progress_done") + 1, heartbeat_at=timezone.now(), phase=phase
        )
        if on_progress:
            done = TrainingRun.objects.values_list("progress_done", flat=True).get(pk=run.pk)
            shown = " ".join(f"{k}={v}" for k, v in point.items())
            on_progress(f"[{done}/{run.progress_total}] {family} {shown}: validation AUC {auc:.4f}")
        crash_point("train.search")

    def on_family(family: str, result: FamilyResult) -> None:
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
    *,
    run_id: int,
    on_progress: Callable[[str], None] | None = None,
    require_pipeline_data: bool = False,
) -> TrainingRun:
    """Run a queued training job end to end; it ends succeeded or failed, never half-done.

    The job reads the DVC pipeline's Parquet when it belongs to the run's data version and
    otherwise writes it from the CSV; `require_pipeline_data` makes a missing one fail the run.
    """
    run = TrainingRun.objects.select_related("data_version").get(pk=run_id)
    if run.status != TrainingRun.Status.QUEUED:
        raise TrainingRefused(f"training run {run.pk} is {run.status}, not queued")
    run.status, run.started_at = TrainingRun.Status.RUNNING, timezone.now()
    run.heartbeat_at, run.worker = run.started_at, worker_identity()
    run.save(update_fields=["status", "started_at", "heartbeat_at", "worker"])
    with _Heartbeat(run.pk):
        return _training_run_complete(run, on_progress, require_pipeline_data)


class _Heartbeat:
    """Stamps heartbeat_at every quarter of the reaper's silence limit while the job runs."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self) -> None:
        interval = settings.TRAINING_HEARTBEAT_TIMEOUT_SECONDS / 4
        try:
            while not self._stop.wait(interval):
                try:
                    TrainingRun.objects.filter(pk=self.run_id, active=True).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:
                    logger.exception("training run %s: heartbeat not written", self.run_id)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _training_run_complete(
    run: TrainingRun, on_progress: Callable[[str], None] | None, require_pipeline_data: bool
) -> TrainingRun:
    on_phase = _phase_callback(run, on_progress)
    try:
        outcome = _training_job_run(run, on_progress, require_pipeline_data)
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
    run.processed_md5 = outcome.processed_md5
    run.save(update_fields=["best_family", "best_eval_auc", "results", "processed_md5"])
    on_phase("registering the best model and running the promotion gate")
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
    _phase_set(run, "done")
    _training_run_finish(run, status=TrainingRun.Status.SUCCEEDED)
    return run


def _job_inputs(
    data_version: DataVersion, work: Path, *, require_pipeline_data: bool = False
) -> tuple[Path, Path, str]:
    """Private copies of the data version's CSV and (when the pipeline made it) its Parquet.

    Returns (csv, parquet, source): a concurrent ingest or `dvc repro` cannot change them under
    Spark. When the pipeline's Parquet is not this version's, the job writes it (source
    "regenerated") unless it is required, when the reason is raised.
    """
    work.mkdir(parents=True, exist_ok=True)
    csv_copy, parquet = work / DATA_FILE, work / Path(PIPELINE_PARQUET).name
    data_version_copy(data_version, target=csv_copy)  # streamed, its hash checked
    parquet.unlink(missing_ok=True)
    try:
        pipeline_parquet_copy(data_version, parquet)
    except ProcessedDataMissing as exc:
        if require_pipeline_data:
            raise
        logger.info("data v%s: %s; the job writes the Parquet itself", data_version.pk, exc)
        return csv_copy, parquet, "regenerated"
    return csv_copy, parquet, "pipeline"


def _training_job_run(
    run: TrainingRun, on_progress: Callable[[str], None] | None, require_pipeline_data: bool
) -> JobOutcome:
    csv_copy, parquet, source = _job_inputs(
        run.data_version,
        settings.VAR_DIR / "runs" / str(run.pk),
        require_pipeline_data=require_pipeline_data,
    )
    run.processed_source = source
    run.save(update_fields=["processed_source"])
    from apps.training import tracking  # MLflow and plotly: only where a job runs
    from apps.training.spark.job import JobSpec, run_training_job  # Spark only in this process

    tracking.mlflow_experiment(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        experiment=settings.MLFLOW_EXPERIMENT,
        artifact_root=settings.MLFLOW_ARTIFACT_ROOT,
    )
    spec = JobSpec(
        csv_path=csv_copy,
        parquet_path=parquet,
        compression=preprocess_compression(settings.TRAINING_PARAMS_FILE),
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
        idle_release_seconds=settings.SPARK_IDLE_RELEASE_SECONDS,
        parallelism=settings.TRAINING_PARALLELISM,
        evaluation_max_rows=settings.EVALUATION_MAX_ROWS,
        holdout_rows=holdout_rows_to_exclude(data_version=run.data_version),
    )
    on_point, on_family = _progress_callbacks(run, on_progress)

    def on_start(parent_run_id: str) -> None:
        run.mlflow_parent_run_id = parent_run_id
        run.save(update_fields=["mlflow_parent_run_id"])

    on_phase = _phase_callback(run, on_progress)
    on_phase("starting Spark")
    return run_training_job(
        spec, on_start=on_start, on_point=on_point, on_family=on_family, on_phase=on_phase
    )


def reference_holdout_designate(*, data_version_id: int, actor: str) -> ReferenceHoldout:
    """Freeze the fixed evaluation split of a data version as the holdout (runs Spark)."""
    data_version = DataVersion.objects.filter(pk=data_version_id).first()
    if data_version is None:
        raise HoldoutError(f"there is no data version {data_version_id}")
    params = load_params(settings.TRAINING_PARAMS_FILE, settings.TRAINING_PROFILE)
    from apps.training.spark.holdout import evaluation_rows  # Spark only in this process

    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.VAR_DIR) as work:
        csv_copy, parquet, _ = _job_inputs(data_version, Path(work))
        rows = evaluation_rows(
            csv_path=csv_copy,
            parquet_path=parquet,
            compression=preprocess_compression(settings.TRAINING_PARAMS_FILE),
            master=settings.SPARK_MASTER,
            driver_memory=settings.SPARK_DRIVER_MEMORY,
            work_dir=settings.VAR_DIR / "spark",
            weights=params.eval_split,
            seed=params.seed,
            max_rows=settings.EVALUATION_MAX_ROWS,
        )
    return reference_holdout_freeze(
        data_version=data_version, rows=rows, origin=ReferenceHoldout.Origin.OPERATOR, actor=actor
    )
