"""The database is the source of truth for the champion; MLflow's `champion` alias mirrors it.

The check runs where MLflow is already loaded (the worker's schedule, /reload, the command) and
stores its result in the shared cache, so /health and the dashboard read it without loading
MLflow or asking the registry on every request.
"""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.dispatch import Signal
from django.utils import timezone

from apps.training import registry
from apps.training.models import ModelVersion
from apps.training.selectors.registry_checks import CHECK_KEY

REGISTRY_SCHEDULE = "titanic-registry-check"
# Sent with `check=` when a comparison finds disagreement after one that agreed (or none):
# upper floors (alerts) listen; this floor does not know who.
registry_disagreement_found = Signal()


@dataclass(frozen=True)
class RegistryCheck:
    checked_at: str
    database_version: int | None
    registry_version: int | None
    agrees: bool
    error: str


def _database_champion() -> int | None:
    return ModelVersion.objects.filter(is_champion=True).values_list("version", flat=True).first()


def registry_check_store(*, database_version: int | None, registry_version: int | None) -> None:
    """Record a comparison someone else already made (e.g. /reload), for /health to show."""
    check = RegistryCheck(
        checked_at=timezone.now().isoformat(),
        database_version=database_version,
        registry_version=registry_version,
        agrees=database_version == registry_version,
        error="",
    )
    _store(check)


def _store(check: RegistryCheck) -> None:
    previous = cache.get(CHECK_KEY)
    cache.set(CHECK_KEY, asdict(check), timeout=None)
    if not check.agrees and (previous is None or previous.get("agrees")):
        registry_disagreement_found.send(sender=RegistryCheck, check=check)


def registry_champion_check() -> RegistryCheck:
    """Compare the registry's champion alias with the database's champion; store the result."""
    database_version = _database_champion()
    try:
        registry_version = registry.alias_version(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=settings.MLFLOW_MODEL_NAME,
            alias=registry.CHAMPION,
        )
        error = ""
    except Exception as exc:  # an unreachable registry is a finding, not a crash of the check
        registry_version, error = None, f"{type(exc).__name__}: {str(exc)[:300]}"
    check = RegistryCheck(
        checked_at=timezone.now().isoformat(),
        database_version=database_version,
        registry_version=registry_version,
        agrees=not error and database_version == registry_version,
        error=error,
    )
    _store(check)
    return check


def registry_champion_reconcile() -> RegistryCheck:
    """Point the registry's champion alias at the database's champion (or remove it), re-check."""
    database_version = _database_champion()
    uri, name = settings.MLFLOW_TRACKING_URI, settings.MLFLOW_MODEL_NAME
    if database_version is None:
        registry.alias_delete(tracking_uri=uri, name=name, alias=registry.CHAMPION)
    else:
        registry.alias_set(
            tracking_uri=uri, name=name, alias=registry.CHAMPION, version=database_version
        )
    return registry_champion_check()


def registry_schedule_setup() -> str:
    """Upsert the worker's periodic champion-alias check (every REGISTRY_CHECK_MINUTES)."""
    from django_q.models import Schedule

    wanted = {
        "func": "apps.training.tasks.registry_check_task",
        "schedule_type": Schedule.MINUTES,
        "minutes": settings.REGISTRY_CHECK_MINUTES,
        "repeats": -1,
    }
    schedule, created = Schedule.objects.update_or_create(name=REGISTRY_SCHEDULE, defaults=wanted)
    state = "created" if created else "up to date"
    return f"schedule {schedule.name}: every {settings.REGISTRY_CHECK_MINUTES} min ({state})"
