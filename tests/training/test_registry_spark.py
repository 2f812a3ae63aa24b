"""Registration, gate, approval and rollback: real Spark jobs, a real MLflow registry."""

import io
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from mlflow import MlflowClient

from apps.portable.scorer import ScorerChecksumError
from apps.training import registry
from apps.training.models import (
    DataVersion,
    ModelVersion,
    PromotionEvent,
    PromotionRequest,
    TrainingRun,
)
from apps.training.services.model_versions import model_version_scorer
from apps.training.services.training_jobs import training_run_execute
from apps.training.services.training_runs import training_run_request

pytestmark = [pytest.mark.spark, pytest.mark.django_db]


def _train() -> TrainingRun:
    run = training_run_execute(run_id=training_run_request(profile="quick", families="lr").pk)
    assert run.status == "succeeded", run.error
    return run


def _alias(client: MlflowClient, alias: str) -> int | None:
    try:
        return int(client.get_model_version_by_alias("titanic_spark_model", alias).version)
    except Exception:
        return None


def _call(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _story(events: Any) -> list[tuple[str, str, str, int | None, int | None]]:
    return [(e.action, e.reason, e.actor, e.from_version, e.to_version) for e in events]


def test_it_registers_gates_approves_and_rolls_back(
    spark: Any, ingested: DataVersion, mlflow_store: str, settings: Any
) -> None:
    client = MlflowClient(mlflow_store)
    settings.AUTO_PROMOTE_TITANIC = True
    _train()
    v1 = ModelVersion.objects.get(version=1)
    assert (v1.status, v1.family, v1.is_champion) == ("champion", "lr", True)
    assert v1.gate_evidence["passed"] and v1.gate_evidence["champion_version"] is None
    assert _alias(client, "champion") == 1
    mlflow_version = client.get_model_version("titanic_spark_model", "1")
    assert mlflow_version.tags["scorer_sha256"] == v1.scorer_sha256
    assert mlflow_version.run_id == v1.mlflow_run_id

    _train()  # same data, same seed: no AUC gain, so the gate must say no
    v2 = ModelVersion.objects.get(version=2)
    assert v2.status == "rejected"
    assert v2.gate_evidence["difference"]["delta"] == pytest.approx(0.0, abs=1e-12)
    assert any("FAIL" in reason for reason in v2.gate_evidence["reasons"])
    assert _alias(client, "champion") == 1

    settings.AUTO_PROMOTE_TITANIC = False
    settings.PROMOTION_MIN_AUC_DELTA = -0.01  # let an equal model pass, to exercise approval
    _train()
    v3 = ModelVersion.objects.get(version=3)
    assert v3.status == "candidate"
    assert PromotionRequest.objects.get(model_version=v3).status == "pending"
    assert (_alias(client, "champion"), _alias(client, "challenger")) == (1, 3)

    assert "now the champion" in _call("promote", "3", "--user", "alice", "--note", "looks good")
    assert ModelVersion.objects.get(is_champion=True).version == 3
    assert PromotionRequest.objects.get(model_version=v3).status == "approved"
    assert (_alias(client, "champion"), _alias(client, "challenger")) == (3, None)

    assert "version 1 is the champion again" in _call("rollback", "--user", "bob")
    assert ModelVersion.objects.get(version=3).status == "rolled_back"
    assert _alias(client, "champion") == 1
    with pytest.raises(CommandError, match="no earlier champion"):
        _call("rollback")

    assert _story(PromotionEvent.objects.order_by("id")) == [
        ("promote", "auto", "gate", None, 1),
        ("reject", "gate", "gate", 1, 2),
        ("await", "gate", "gate", 1, 3),
        ("promote", "approval", "alice", 1, 3),
        ("rollback", "rollback", "bob", 3, 1),
    ]
    with pytest.raises(CommandError, match="version 2 is rejected; promote it anyway"):
        _call("promote", "2")

    # A scorer file altered after registration is refused at load time; nothing moves. Altered
    # in the store too: a bad cache file alone is replaced by a verified download (issue 13).
    cached = registry.scorer_path(settings.MODEL_CACHE_DIR, "titanic_spark_model", 3)
    cached.write_text(cached.read_text().replace('"lr"', '"lr" ', 1))
    artifacts = client.get_run(ModelVersion.objects.get(version=3).mlflow_run_id).info.artifact_uri
    stored = Path(urllib.parse.urlparse(artifacts).path) / registry.SCORER_ARTIFACT
    stored.write_text(stored.read_text().replace('"lr"', '"lr" ', 1))
    with pytest.raises(ScorerChecksumError, match="sha256"):
        model_version_scorer(ModelVersion.objects.get(version=3))
    with pytest.raises(CommandError, match="sha256"):
        _call("promote", "3", "--force")
    assert ModelVersion.objects.get(is_champion=True).version == 1
    assert _alias(client, "champion") == 1


def test_it_leaves_the_champion_alone_when_the_alias_cannot_move(
    spark: Any,
    ingested: DataVersion,
    mlflow_store: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = MlflowClient(mlflow_store)
    settings.AUTO_PROMOTE_TITANIC = True
    _train()
    settings.AUTO_PROMOTE_TITANIC = False
    settings.PROMOTION_MIN_AUC_DELTA = -0.01
    _train()
    events_before = PromotionEvent.objects.count()

    def registry_down(**kwargs: Any) -> None:
        raise registry.RegistryError("registry unreachable (simulated)")  # the failure under test

    monkeypatch.setattr(registry, "alias_set", registry_down)
    with pytest.raises(CommandError, match="registry unreachable"):
        _call("promote", "2")
    champion = ModelVersion.objects.get(is_champion=True)
    assert (champion.version, champion.status) == (1, "champion")
    assert ModelVersion.objects.get(version=2).status == "candidate"
    assert PromotionEvent.objects.count() == events_before
    assert _alias(client, "champion") == 1

    monkeypatch.undo()
    assert "rejected" in _call("reject", "2", "--user", "carol")
    assert PromotionRequest.objects.get(model_version__version=2).status == "rejected"
    assert _alias(client, "challenger") is None
