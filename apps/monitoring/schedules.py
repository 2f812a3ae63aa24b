"""The named django-q2 schedules, upserted idempotently by `manage.py setup_schedules`."""

from typing import Any

from django.conf import settings
from django_q.models import Schedule

DRIFT_SCHEDULE = "titanic-drift-check"
REAP_SCHEDULE = "titanic-training-reaper"
ARCHIVE_SCHEDULE = "titanic-inference-archive"


def _upsert(name: str, wanted: dict[str, Any], every: str) -> str:
    schedule, created = Schedule.objects.get_or_create(name=name, defaults=wanted)
    changed = [key for key, value in wanted.items() if getattr(schedule, key) != value]
    for key in changed:
        setattr(schedule, key, wanted[key])
    if changed:
        schedule.save()
    state = "created" if created else ("updated " + ", ".join(changed) if changed else "unchanged")
    return f"schedule {name}: every {every} ({state})"


def schedules_setup() -> list[str]:
    """Upsert the named schedules; running it twice changes nothing the second time."""
    drift = {
        "func": "apps.monitoring.tasks.drift_check_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": settings.DRIFT_CHECK_MINUTES,
        "repeats": -1,
    }
    # Every minute: a killed job frees its slot within a minute of its heartbeat going silent.
    reaper = {
        "func": "apps.training.tasks.training_run_reap_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "repeats": -1,
    }
    # Daily: each run moves whole past days to Parquet, in bounded batches.
    archive = {
        "func": "apps.monitoring.tasks.inference_archive_task",
        "schedule_type": Schedule.DAILY,
        "repeats": -1,
    }
    return [
        _upsert(DRIFT_SCHEDULE, drift, f"{settings.DRIFT_CHECK_MINUTES} min"),
        _upsert(REAP_SCHEDULE, reaper, "1 min"),
        _upsert(ARCHIVE_SCHEDULE, archive, "day"),
    ]
