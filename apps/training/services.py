import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from apps.monitoring.services import drift_baseline_create, drift_baseline_publish
from apps.serving.scorer import PortableScorer
from apps.training import contract, dvc, registry
from apps.training.dataset import SOURCE_LABEL, builtin_titanic_bytes
from apps.training.gate import GatePolicy, gate_evaluate
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)
from apps.training.params import ParamsError, TrainingParams, load_params, parse_families
from apps.training.selectors import (
    data_version_current,
    model_version_champion,
    model_version_previous_champion,
)

logger = logging.getLogger(__name__)

DATA_FILE = "titanic.csv"


@dataclass(frozen=True)
class IngestResult:
    data_version: DataVersion
    created: bool


@contextmanager
def _file_lock(name: str) -> Iterator[None]:
    lock_dir = settings.VAR_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tracked_paths() -> tuple[Path, Path]:
    csv_path = settings.DATA_DIR / DATA_FILE
    return csv_path, csv_path.with_name(DATA_FILE + ".dvc")


def _is_checked_out(md5: str) -> bool:
    csv_path, pointer = _tracked_paths()
    if dvc.pointer_md5(pointer) != md5 or not csv_path.exists():
        return False
    return hashlib.md5(csv_path.read_bytes()).hexdigest() == md5  # noqa: S324 (DVC's hash)


def _restore(saved: dict[Path, bytes | None]) -> None:
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(content)


def _write_tracked(data: bytes) -> dict[Path, bytes | None]:
    """Write the CSV, `dvc add` and `dvc push` it; return what was there before."""
    root = settings.DVC_ROOT
    csv_path, pointer = _tracked_paths()
    saved = {path: (path.read_bytes() if path.exists() else None) for path in (csv_path, pointer)}
    try:
        dvc.ensure_repo(root)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        staging = csv_path.with_name(f".{DATA_FILE}.incoming")
        staging.write_bytes(data)
        os.replace(staging, csv_path)
        relative = str(csv_path.relative_to(root))
        dvc.run(root, "add", "--quiet", relative)
        dvc.ensure_remote(root, settings.DVC_REMOTE_URL, settings.DVC_S3_ENDPOINT_URL)
        dvc.run(root, "push", "--quiet", relative + ".dvc")
    except Exception:
        _restore(saved)
        raise
    return saved


def data_version_ingest(
    *, data: bytes, source: str, parent: DataVersion | None = None, labelled_rows_added: int = 0
) -> IngestResult:
    """Validate `data`, version it with DVC and record it as the current DataVersion."""
    dataset = contract.parse_dataset(data)
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 (DVC's content hash)
    with _file_lock("ingest"):
        existing = DataVersion.objects.filter(md5=md5).first()
        if existing and existing.is_current and _is_checked_out(md5):
            return IngestResult(existing, created=False)
        saved = None if _is_checked_out(md5) else _write_tracked(data)
        try:
            with transaction.atomic():
                DataVersion.objects.filter(is_current=True).update(is_current=False)
                if existing:
                    existing.is_current = True
                    existing.save(update_fields=["is_current"])
                    return IngestResult(existing, created=False)
                version = _data_version_create(
                    dataset,
                    md5=md5,
                    size=len(data),
                    source=source,
                    parent=parent,
                    labelled_rows_added=labelled_rows_added,
                )
        except Exception:
            if saved is not None:
                _restore(saved)
            raise
    logger.info("ingested %s from %s", version, source)
    return IngestResult(version, created=True)


def _data_version_create(
    dataset: contract.Dataset,
    *,
    md5: str,
    size: int,
    source: str,
    parent: DataVersion | None,
    labelled_rows_added: int,
) -> DataVersion:
    summary = contract.summarize(dataset.rows)
    return DataVersion.objects.create(
        md5=md5,
        size_bytes=size,
        rows=len(dataset.rows),
        positives=sum(row["Survived"] for row in dataset.rows),
        columns=dataset.columns,
        missing={name: column["missing"] for name, column in summary.items()},
        summary=summary,
        source=source,
        parent=parent,
        labelled_rows_added=labelled_rows_added,
        is_current=True,
    )


def data_version_ingest_file(*, path: Path | None) -> IngestResult:
    """Ingest a user's CSV file, or the built-in Kaggle data set when `path` is None."""
    if path is None:
        data = builtin_titanic_bytes(settings.DATASET_CACHE_DIR)
        return data_version_ingest(data=data, source=SOURCE_LABEL)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise contract.ContractError(f"cannot read {path}: {exc.strerror}") from None
    return data_version_ingest(data=data, source=str(Path(path).resolve()))


# --- training runs ----------------------------------------------------------------------------


class TrainingRefused(Exception):
    """A training job cannot start now (another one is active, or the request is invalid)."""


class TrainingDataError(Exception):
    """The data version to train on is missing or its file does not match its hash."""


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


def data_version_bytes(data_version: DataVersion) -> bytes:
    """The verified bytes of a data version: the working copy if current, else the DVC cache."""
    csv_path, _ = _tracked_paths()
    candidates = [csv_path] if data_version.is_current else []
    candidates.append(dvc.cache_path(settings.DVC_ROOT, data_version.md5))
    existing = [path for path in candidates if path.exists()]
    if not existing:
        raise TrainingDataError(
            f"data version {data_version.pk}: file missing ({candidates[0]}); "
            "restore it with `dvc pull` or re-ingest"
        )
    data = existing[0].read_bytes()
    actual = hashlib.md5(data).hexdigest()  # noqa: S324 (DVC's hash)
    if actual != data_version.md5:
        raise TrainingDataError(
            f"data version {data_version.pk}: {existing[0]} changed on disk "
            f"(hash mismatch: md5 {actual}, expected {data_version.md5}); "
            "re-ingest it or run `dvc checkout`"
        )
    return data


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
    data = data_version_bytes(run.data_version)
    work = settings.VAR_DIR / "runs" / str(run.pk)
    work.mkdir(parents=True, exist_ok=True)
    csv_copy = work / DATA_FILE  # a private copy: a concurrent ingest cannot change it under Spark
    csv_copy.write_bytes(data)
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
    )
    on_point, on_family = _progress_callbacks(run, on_progress)

    def on_start(parent_run_id: str) -> None:
        run.mlflow_parent_run_id = parent_run_id
        run.save(update_fields=["mlflow_parent_run_id"])

    return run_training_job(spec, on_start=on_start, on_point=on_point, on_family=on_family)


# --- registry and promotion -------------------------------------------------------------------


class PromotionError(Exception):
    """A promotion, rejection or rollback cannot be done; the message says why."""


def _gate_policy() -> GatePolicy:
    return GatePolicy(
        min_auc=settings.PROMOTION_MIN_AUC,
        min_auc_delta=settings.PROMOTION_MIN_AUC_DELTA,
        max_class_drop=settings.PROMOTION_MAX_CLASS_DROP,
    )


def model_version_scorer(model_version: ModelVersion) -> PortableScorer:
    """The version's portable scorer, downloaded once and checksum-verified on every load."""
    return registry.scorer_load(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        cache_dir=settings.MODEL_CACHE_DIR,
        name=model_version.name,
        version=model_version.version,
        run_id=model_version.mlflow_run_id,
        sha256=model_version.scorer_sha256,
    )


def model_version_register(*, run: TrainingRun, outcome: Any) -> ModelVersion:
    """Register the job's winner as one new version, mirror it, and pass it through the gate."""
    best = outcome.families[outcome.best_family]
    metrics = {**best["metrics"], "per_class": best["per_class"]}
    number = registry.version_register(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        name=settings.MLFLOW_MODEL_NAME,
        model_uri=best["model_uri"],
        run_id=best["child_run_id"],
        tags={
            "family": outcome.best_family,
            "training_run_id": str(run.pk),
            "data_version_md5": run.data_version.md5,
            "eval_auc": f"{best['metrics']['eval_auc']:.6f}",
            "scorer_uri": f"runs:/{best['child_run_id']}/{registry.SCORER_ARTIFACT}",
            "scorer_sha256": best["scorer_sha256"],
        },
    )
    candidate = ModelVersion.objects.create(
        name=settings.MLFLOW_MODEL_NAME,
        version=number,
        training_run=run,
        data_version=run.data_version,
        family=outcome.best_family,
        mlflow_run_id=best["child_run_id"],
        model_uri=best["model_uri"],
        scorer_uri=f"runs:/{best['child_run_id']}/{registry.SCORER_ARTIFACT}",
        scorer_sha256=best["scorer_sha256"],
        best_params=best["best_params"],
        metrics=metrics,
    )
    try:
        model_version_scorer(candidate)  # the registered files must load before any decision
        drift_baseline_create(model_version=candidate, rows=outcome.training_rows)
        _model_version_decide(candidate, run=run, outcome=outcome, scores=best["eval_scores"])
    except Exception as exc:
        # A version whose registration did not complete can never be promoted by accident.
        candidate.status = ModelVersion.Status.REJECTED
        candidate.gate_evidence = {"error": f"registration failed: {type(exc).__name__}: {exc}"}
        candidate.save(update_fields=["status", "gate_evidence"])
        raise
    return candidate


def _model_version_decide(
    candidate: ModelVersion, *, run: TrainingRun, outcome: Any, scores: list[float]
) -> None:
    champion = model_version_champion()
    champion_scores = None
    if champion is not None:
        champion_scores = model_version_scorer(champion).predict_proba(outcome.evaluation_rows)
    verdict = gate_evaluate(
        y_true=outcome.evaluation_labels,
        candidate_scores=scores,
        champion_scores=champion_scores,
        policy=_gate_policy(),
    )
    evidence = {**verdict.as_dict(), "champion_version": champion.version if champion else None}
    candidate.gate_evidence = evidence
    candidate.save(update_fields=["gate_evidence"])
    drift = run.trigger == TrainingRun.Trigger.DRIFT
    if not verdict.passed:
        with transaction.atomic():
            candidate.status = ModelVersion.Status.REJECTED
            candidate.save(update_fields=["status"])
            _event(
                PromotionEvent.Action.REJECT,
                PromotionEvent.Reason.GATE,
                "gate",
                champion,
                candidate,
                evidence,
            )
    elif settings.AUTO_PROMOTE_TITANIC:
        reason = PromotionEvent.Reason.DRIFT_RETRAIN if drift else PromotionEvent.Reason.AUTO
        model_version_promote(version=candidate.version, actor="gate", reason=reason)
    else:
        with transaction.atomic():
            PromotionRequest.objects.create(model_version=candidate, evidence=evidence)
            _event(
                PromotionEvent.Action.AWAIT,
                PromotionEvent.Reason.GATE,
                "gate",
                champion,
                candidate,
                evidence,
            )
            registry.alias_set(
                tracking_uri=settings.MLFLOW_TRACKING_URI,
                name=candidate.name,
                alias=registry.CHALLENGER,
                version=candidate.version,
            )


def _event(
    action: str,
    reason: str,
    actor: str,
    old: ModelVersion | None,
    new: ModelVersion | None,
    evidence: dict[str, Any],
    note: str = "",
) -> PromotionEvent:
    return PromotionEvent.objects.create(
        action=action,
        reason=reason,
        actor=actor[:150],
        from_version=old.version if old else None,
        to_version=new.version if new else None,
        evidence=evidence,
        note=note,
    )


def _requests_decide(target: ModelVersion, status: str, *, actor: str, note: str) -> None:
    """Close the version's pending approval requests with the decision."""
    PromotionRequest.objects.filter(
        model_version=target, status=PromotionRequest.Status.PENDING
    ).update(status=status, decided_by=actor, decided_at=timezone.now(), note=note)


def _champion_move(
    target: ModelVersion, *, old_status: str, action: str, reason: str, actor: str, note: str
) -> ModelVersion:
    """Verify the target's files, then switch champion in the database and, last, the alias."""
    model_version_scorer(target)
    with transaction.atomic():
        old = ModelVersion.objects.select_for_update().filter(is_champion=True).first()
        if old is not None:
            old.status, old.is_champion = old_status, None
            old.save(update_fields=["status", "is_champion"])
        target.status, target.is_champion = ModelVersion.Status.CHAMPION, True
        target.champion_since = timezone.now()
        target.save(update_fields=["status", "is_champion", "champion_since"])
        _requests_decide(target, PromotionRequest.Status.APPROVED, actor=actor, note=note)
        _event(action, reason, actor, old, target, target.gate_evidence, note)
        # Last step inside the transaction: if the registry refuses, nothing above is kept.
        registry.alias_set(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=target.name,
            alias=registry.CHAMPION,
            version=target.version,
        )
    # The decision is committed; what follows tidies up and must not undo or mask it.
    try:
        _challenger_alias_clear(target)
        drift_baseline_publish(model_version=target)  # the baseline file follows the champion
    except Exception:
        logger.exception("champion v%s: post-promotion housekeeping failed", target.version)
    return target


def _challenger_alias_clear(target: ModelVersion) -> None:
    uri, name = settings.MLFLOW_TRACKING_URI, target.name
    if registry.alias_version(tracking_uri=uri, name=name, alias=registry.CHALLENGER) == (
        target.version
    ):
        registry.alias_delete(tracking_uri=uri, name=name, alias=registry.CHALLENGER)


def _model_version_get(version: int) -> ModelVersion:
    found = ModelVersion.objects.filter(name=settings.MLFLOW_MODEL_NAME, version=version).first()
    if found is None:
        raise PromotionError(f"{settings.MLFLOW_MODEL_NAME} has no version {version}")
    return found


def model_version_promote(
    *,
    version: int,
    actor: str,
    reason: str = PromotionEvent.Reason.APPROVAL,
    note: str = "",
    force: bool = False,
) -> ModelVersion:
    """Make `version` the champion (an approval, the gate's auto-promotion or a manual override)."""
    target = _model_version_get(version)
    if target.status == ModelVersion.Status.CHAMPION:
        raise PromotionError(f"version {version} is already the champion")
    if target.status != ModelVersion.Status.CANDIDATE and not force:
        raise PromotionError(
            f"version {version} is {target.status}; promote it anyway with force (manual override)"
        )
    if force and target.status != ModelVersion.Status.CANDIDATE:
        reason = PromotionEvent.Reason.MANUAL
    return _champion_move(
        target,
        old_status=ModelVersion.Status.RETIRED,
        action=PromotionEvent.Action.PROMOTE,
        reason=reason,
        actor=actor,
        note=note,
    )


def model_version_reject(*, version: int, actor: str, note: str = "") -> ModelVersion:
    """Turn down a candidate that waits for approval."""
    target = _model_version_get(version)
    if target.status != ModelVersion.Status.CANDIDATE:
        raise PromotionError(f"version {version} is {target.status}, not a candidate")
    with transaction.atomic():
        target.status = ModelVersion.Status.REJECTED
        target.save(update_fields=["status"])
        _requests_decide(target, PromotionRequest.Status.REJECTED, actor=actor, note=note)
        _event(
            PromotionEvent.Action.REJECT,
            PromotionEvent.Reason.MANUAL,
            actor,
            model_version_champion(),
            target,
            target.gate_evidence,
            note,
        )
    _challenger_alias_clear(target)
    return target


def model_version_rollback(*, actor: str, note: str = "") -> ModelVersion:
    """Move the champion back to the previous champion; the current one is marked rolled back."""
    current = model_version_champion()
    if current is None:
        raise PromotionError("there is no champion to roll back")
    previous = model_version_previous_champion()
    if previous is None:
        raise PromotionError(f"version {current.version} has no earlier champion to return to")
    return _champion_move(
        previous,
        old_status=ModelVersion.Status.ROLLED_BACK,
        action=PromotionEvent.Action.ROLLBACK,
        reason=PromotionEvent.Reason.ROLLBACK,
        actor=actor,
        note=note,
    )
