"""The reaper: silent or dead jobs are failed and tidied; half-made versions never promoted."""

import io
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task

from apps.training.models import ModelVersion, TrainingRun
from apps.training.services.model_versions import PromotionError, model_version_promote
from apps.training.services.recovery import training_run_reap
from apps.training.services.training_runs import training_run_request
from tests.factories import data_version, model_version_install

pytestmark = pytest.mark.django_db


def _running(**fields: Any) -> TrainingRun:
    now = timezone.now()
    wanted = {"status": "running", "started_at": now, "heartbeat_at": now, **fields}
    return TrainingRun.objects.create(
        profile="quick", families=["lr"], data_version=data_version(), **wanted
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_it_fails_a_silent_job_and_lets_the_next_one_start(settings: Any) -> None:
    settings.TRAINING_HEARTBEAT_TIMEOUT_SECONDS = 60
    fresh = _running()
    assert training_run_reap(check_alias=False).failed_runs == []
    assert TrainingRun.objects.get(pk=fresh.pk).active
    TrainingRun.objects.filter(pk=fresh.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    nxt = training_run_request(families="lr")  # reaps first, then takes the slot
    old = TrainingRun.objects.get(pk=fresh.pk)
    assert (old.status, old.active) == ("failed", None)
    assert "no heartbeat since" in old.error and old.finished_at
    assert nxt.status == "queued" and nxt.active


def test_it_fails_at_once_a_job_whose_worker_process_is_gone() -> None:
    run = _running(worker=f"{socket.gethostname()}:{_dead_pid()}")
    alive = _running(worker=f"{socket.gethostname()}:1", active=None, status="succeeded")
    assert training_run_reap(check_alias=False).failed_runs == [run.pk]
    assert "worker process" in TrainingRun.objects.get(pk=run.pk).error
    assert TrainingRun.objects.get(pk=alive.pk).status == "succeeded"


def test_it_releases_the_queue_entry_of_a_dead_job(settings: Any) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    run = _running(worker=f"{socket.gethostname()}:{_dead_pid()}")
    async_task("apps.training.tasks.training_run_task", run.pk, task_name=f"training-run-{run.pk}")
    async_task("math.floor", 1.5, task_name="someone-else")
    assert OrmQ.objects.count() == 2
    result = training_run_reap(check_alias=False)
    assert result.released_queue_entries == 1
    assert [entry.name() for entry in OrmQ.objects.all()] == ["someone-else"]


def test_it_retires_half_registered_versions_and_never_promotes_them(
    settings: Any, tmp_path: Path
) -> None:
    settings.MODEL_CACHE_DIR = tmp_path
    model_version_install(1)
    half = model_version_install(2, champion=False)
    ModelVersion.objects.filter(pk=half.pk).update(status="registering", gate_evidence={})
    TrainingRun.objects.filter(pk=half.training_run_id).update(active=True, status="running")
    for force in (False, True):
        with pytest.raises(PromotionError, match="not completely registered"):
            model_version_promote(version=2, actor="ops", force=force)
    assert training_run_reap(check_alias=False).retired_versions == []  # its job may still finish
    TrainingRun.objects.filter(pk=half.training_run_id).update(active=None, status="failed")
    out = io.StringIO()
    call_command("reap", stdout=out)
    assert "retired half-registered versions: 2" in out.getvalue()
    retired = ModelVersion.objects.get(version=2)
    assert (
        retired.status == "rejected"
        and "registration interrupted" in retired.gate_evidence["error"]
    )
    with pytest.raises(PromotionError, match="not completely registered"):
        model_version_promote(version=2, actor="ops", force=True)
    assert ModelVersion.objects.get(is_champion=True).version == 1


def test_it_reaps_when_a_worker_starts_and_on_its_schedule() -> None:
    from django_q.models import Schedule
    from django_q.signals import post_spawn

    run = _running(worker=f"{socket.gethostname()}:{_dead_pid()}")
    post_spawn.send(sender="django_q", proc_name="Process-1")  # what a fresh worker sends
    assert TrainingRun.objects.get(pk=run.pk).status == "failed"
    call_command("setup_schedules", stdout=io.StringIO())
    schedule = Schedule.objects.get(name="titanic-training-reaper")
    assert (schedule.func, schedule.minutes) == ("apps.training.tasks.training_run_reap_task", 1)
