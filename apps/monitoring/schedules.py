"""The named django-q2 schedules, upserted idempotently by `manage.py setup_schedules`."""

from django.conf import settings
from django_q.models import Schedule

DRIFT_SCHEDULE = "titanic-drift-check"


def schedules_setup() -> list[str]:
    """Upsert the named schedules; running it twice changes nothing the second time."""
    wanted = {
        "func": "apps.monitoring.tasks.drift_check_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": settings.DRIFT_CHECK_MINUTES,
        "repeats": -1,
    }
    schedule, created = Schedule.objects.get_or_create(name=DRIFT_SCHEDULE, defaults=wanted)
    changed = [key for key, value in wanted.items() if getattr(schedule, key) != value]
    for key in changed:
        setattr(schedule, key, wanted[key])
    if changed:
        schedule.save()
    state = "created" if created else ("updated " + ", ".join(changed) if changed else "unchanged")
    return [f"schedule {DRIFT_SCHEDULE}: every {settings.DRIFT_CHECK_MINUTES} min ({state})"]
