"""The database names the champion; a registry alias that disagrees is found, shown and fixed."""

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_q.models import Schedule

from apps.training import registry
from apps.training.services.registry_sync import registry_champion_check
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def _set_alias(version: int) -> None:
    """What someone with registry access but no business there does (the issue's attack)."""
    from django.conf import settings

    registry.alias_set(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        name=settings.MLFLOW_MODEL_NAME,
        alias=registry.CHAMPION,
        version=version,
    )


def test_it_detects_shows_and_reconciles_a_moved_champion_alias(
    mlflow_registry: str, tmp_path: Path, viewer_client: Client
) -> None:
    f.registered_version(1, tmp_path=tmp_path, champion=True)
    f.registered_version(2, tmp_path=tmp_path, champion=False)
    health = Client().get("/health").json()
    assert "registry" not in health  # never compared yet: nothing claimed
    assert registry_champion_check().agrees

    _set_alias(2)  # moved behind the app's back
    assert Client().get("/health").json()["registry"]["agrees"] is True  # stored, not live
    check = registry_champion_check()
    assert (check.agrees, check.database_version, check.registry_version) == (False, 1, 2)
    health = Client().get("/health").json()
    assert health["status"] == "degraded"
    assert health["registry"]["registry_version"] == 2
    assert health["registry"]["database_version"] == 1
    page = viewer_client.get("/").content.decode()
    assert 'id="registry-disagreement"' in page and "reconcile_registry" in page

    with pytest.raises(CommandError, match="DISAGREE"):
        call_command("reconcile_registry", "--check", stdout=io.StringIO())
    out = io.StringIO()
    call_command("reconcile_registry", stdout=out)
    assert "database champion v1, registry alias v1: agree" in out.getvalue()
    assert f.alias(registry.CHAMPION) == 1
    assert Client().get("/health").json()["registry"]["agrees"] is True
    assert 'id="registry-disagreement"' not in viewer_client.get("/").content.decode()


def test_it_reports_an_unreachable_registry_as_a_disagreement(
    mlflow_registry: str, tmp_path: Path, settings: Any
) -> None:
    f.registered_version(1, tmp_path=tmp_path, champion=True)
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.MLFLOW_HTTP_TIMEOUT = 1
    check = registry_champion_check()
    assert not check.agrees and check.error and check.database_version == 1


def test_it_schedules_the_worker_s_check_idempotently(settings: Any) -> None:
    settings.REGISTRY_CHECK_MINUTES = 2
    out = io.StringIO()
    call_command("reconcile_registry", "--schedule", stdout=out)
    call_command("reconcile_registry", "--schedule", stdout=out)
    assert "(created)" in out.getvalue() and "(up to date)" in out.getvalue()
    schedule = Schedule.objects.get(name="titanic-registry-check")
    assert (schedule.func, schedule.minutes) == ("apps.training.tasks.registry_check_task", 2)
