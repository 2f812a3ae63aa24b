"""What training tells a person: the phase while it runs, the outcome and the next command."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.training.management.commands.train import outcome_line
from apps.training.models import DataVersion, ModelVersion, TrainingRun
from apps.training.selectors.training_runs import training_run_phase
from apps.training.services.training_runs import TrainingRefused, training_run_request
from tests.dashboard import factories as f

pytestmark = pytest.mark.django_db


def _finish(run: TrainingRun) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", active=None)


def test_it_refuses_to_retrain_unchanged_data_with_unchanged_parameters(
    ingested: DataVersion,
) -> None:
    first = training_run_request(profile="quick", force=False)
    assert len(first.params_sha256) == 64
    _finish(first)
    with pytest.raises(TrainingRefused, match=f"already trained .* training run {first.pk}"):
        training_run_request(profile="quick", force=False)
    with pytest.raises(CommandError, match="ask again with force"):
        call_command("train", "--profile", "quick")
    other = training_run_request(profile="quick", families="lr", force=False)  # other params
    assert other.params_sha256 != first.params_sha256
    _finish(other)
    again = training_run_request(profile="quick", force=True)
    assert again.params_sha256 == first.params_sha256


def test_it_shows_the_phase_and_the_elapsed_time(ingested: DataVersion) -> None:
    run = training_run_request(profile="quick")
    assert training_run_phase(run) == {"phase": "waiting for the worker", "elapsed_seconds": None}
    run.status, run.phase = "running", "searching rf: point 2/4"
    run.started_at = timezone.now() - timedelta(seconds=75)
    progress = training_run_phase(run)
    assert progress["phase"] == "searching rf: point 2/4"
    assert 75 <= progress["elapsed_seconds"] < 90


def test_it_ends_with_the_outcome_and_the_next_command(db: Any) -> None:
    champion = f.model_version_create(1)
    assert outcome_line(champion) == "v1 is now champion (serving)."
    waiting = f.model_version_create(
        2, status=ModelVersion.Status.CANDIDATE, gate_evidence=f.evidence(0.9, 0.87, 1)
    )
    assert outcome_line(waiting).startswith(
        "registered v2, waiting for approval — run `manage.py promote 2`"
    )
    evidence = {**f.evidence(0.86, 0.87, 1, passed=False), "n_rows": 163}
    rejected = f.model_version_create(3, status="rejected", gate_evidence=evidence)
    line = outcome_line(rejected)
    assert line.startswith("v3 rejected by the gate: FAIL AUC gain -0.0100")
    assert f"evaluation split of data v{rejected.data_version_id}, 163 rows" in line
