"""Recovery after a crash: fail silent training jobs and tidy what they left half-made.

A job is known dead when its heartbeat is older than TRAINING_HEARTBEAT_TIMEOUT_SECONDS, or at
once when it ran on this host under a process id that no longer exists. The reaper runs on a
django-q2 schedule, when a worker starts and before every training request.
"""

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ

from apps.training import registry
from apps.training.models import ModelVersion, TrainingRun
from apps.training.services.model_versions import model_version_retire_incomplete

logger = logging.getLogger(__name__)


@dataclass
class ReapResult:
    failed_runs: list[int] = field(default_factory=list)
    retired_versions: list[int] = field(default_factory=list)
    closed_mlflow_runs: list[str] = field(default_factory=list)
    released_queue_entries: int = 0
    alias_repaired: bool = False
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"failed runs: {', '.join(map(str, self.failed_runs)) or 'none'}",
            "retired half-registered versions: "
            + (", ".join(map(str, self.retired_versions)) or "none"),
            f"MLflow runs closed as KILLED: {len(self.closed_mlflow_runs)}",
            f"queue entries released: {self.released_queue_entries}",
            f"champion alias repaired: {'yes' if self.alias_repaired else 'no'}",
            *[f"problem: {problem}" for problem in self.problems],
        ]


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_dead(worker: str) -> bool:
    """True when `worker` ran on this host and its process is gone."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _why_dead(run: TrainingRun) -> str:
    """Why the run counts as abandoned, or "" while it may still be alive."""
    now = timezone.now()
    if run.status == TrainingRun.Status.RUNNING:
        if run.worker and _pid_dead(run.worker):
            return f"abandoned: its worker process {run.worker} is gone"
        last = run.heartbeat_at or run.started_at or run.created_at
        silence = timedelta(seconds=settings.TRAINING_HEARTBEAT_TIMEOUT_SECONDS)
        if now - last > silence:
            return f"abandoned: no heartbeat since {last.isoformat()} (worker killed?)"
        return ""
    # Queued: no worker took it within the task timeout (the cluster was down or lost it).
    if now - run.created_at > timedelta(seconds=settings.TRAINING_TIMEOUT_SECONDS):
        return f"abandoned: queued since {run.created_at.isoformat()} and never started"
    return ""


def _queue_release(run: TrainingRun) -> int:
    """Delete the run's django-q2 ORM broker entry so no worker picks it up again."""
    released = 0
    for entry in OrmQ.objects.all():
        try:
            name = entry.name()
        except Exception:  # an entry this process cannot decode is not ours to judge
            logger.warning("queue entry %s cannot be read; left alone", entry.pk)
            continue
        if name == f"training-run-{run.pk}":
            entry.delete()
            released += 1
    return released


def _run_fail(run: TrainingRun, why: str, result: ReapResult) -> None:
    updated = TrainingRun.objects.filter(pk=run.pk, active=True).update(
        status=TrainingRun.Status.FAILED, error=why, active=None, finished_at=timezone.now()
    )
    if not updated:
        return  # it finished meanwhile
    result.failed_runs.append(run.pk)
    logger.error("training run %s failed by the reaper: %s", run.pk, why)
    result.released_queue_entries += _queue_release(run)
    if run.mlflow_parent_run_id:
        try:
            result.closed_mlflow_runs += registry.runs_terminate(
                tracking_uri=settings.MLFLOW_TRACKING_URI, parent_run_id=run.mlflow_parent_run_id
            )
        except Exception as exc:
            result.problems.append(f"run {run.pk}: MLflow runs left open: {exc}")


def _half_registered_retire(result: ReapResult) -> None:
    """Versions stuck in `registering` whose job is over can never complete: retire them."""
    stuck = ModelVersion.objects.filter(
        status=ModelVersion.Status.REGISTERING, training_run__active__isnull=True
    )
    for version in stuck:
        model_version_retire_incomplete(
            model_version=version,
            why=f"registration interrupted: training run {version.training_run_id} ended first",
        )
        result.retired_versions.append(version.version)


def _champion_alias_repair(result: ReapResult) -> None:
    """The alias follows the database: a kill between alias move and commit left it ahead."""
    champion = ModelVersion.objects.filter(is_champion=True).first()
    if champion is None:
        return
    uri = settings.MLFLOW_TRACKING_URI
    try:
        pointed = registry.alias_version(
            tracking_uri=uri, name=champion.name, alias=registry.CHAMPION
        )
        if pointed != champion.version:
            registry.alias_set(
                tracking_uri=uri,
                name=champion.name,
                alias=registry.CHAMPION,
                version=champion.version,
            )
            result.alias_repaired = True
            logger.warning("champion alias pointed at v%s; moved back to v%s", pointed, champion)
    except Exception as exc:
        result.problems.append(f"champion alias not checked: {exc}")


def training_run_reap(*, check_alias: bool = True) -> ReapResult:
    """Fail abandoned jobs (closing their MLflow runs and queue entries) and tidy after them."""
    result = ReapResult()
    for run in TrainingRun.objects.filter(active=True):
        why = _why_dead(run)
        if why:
            _run_fail(run, why, result)
    _half_registered_retire(result)
    # The web process asks only after a reap: the registry client is heavy to import.
    if check_alias or result.failed_runs or result.retired_versions:
        _champion_alias_repair(result)
    return result
