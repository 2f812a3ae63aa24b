"""Worker start: reap at once, so a job killed with the previous worker frees its slot now."""

import logging
from typing import Any

from apps.training.services.recovery import training_run_reap

logger = logging.getLogger(__name__)


def reap_on_worker_start(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    """django-q2 `post_spawn` receiver: runs in every freshly spawned worker process."""
    # The cluster closes its connections before it forks, so this opens the worker's own.
    try:
        result = training_run_reap()
        if result.failed_runs or result.retired_versions:
            logger.warning("worker %s start: %s", proc_name, "; ".join(result.lines()))
    except Exception:
        logger.exception("worker %s start: reaper failed", proc_name)
