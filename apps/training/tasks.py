"""django-q2 entry points: ids in, one service call each."""

from apps.training.models import TrainingRun
from apps.training.services.recovery import training_run_reap
from apps.training.services.registry_sync import registry_champion_check
from apps.training.services.training_jobs import training_run_execute


def training_run_task(run_id: int) -> str:
    """Execute a queued training run in the worker; raise so the queue records a failure."""
    run = training_run_execute(run_id=run_id)
    if run.status != TrainingRun.Status.SUCCEEDED:
        raise RuntimeError(f"training run {run_id} failed: {run.error}")
    return f"training run {run_id} succeeded: best {run.best_family} AUC {run.best_eval_auc:.4f}"


def registry_check_task() -> str:
    """The scheduled comparison of the registry's champion alias with the database."""
    check = registry_champion_check()
    state = "agrees" if check.agrees else "DISAGREES"
    return f"registry {state}: database v{check.database_version}, alias v{check.registry_version}"


def training_run_reap_task() -> str:
    """The scheduled reaper: fail silent jobs and tidy what they left half-made."""
    return "; ".join(training_run_reap().lines())
