"""Shadow replay on a real pair of registered versions (portable scorers, no Spark)."""

import io
import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.monitoring.models import ShadowReplay
from apps.monitoring.services.shadow_replays import shadow_replay_create
from apps.portable.scorer import PortableScorer
from apps.serving.models import InferenceLog
from apps.training.contract import parse_dataset
from apps.training.metrics import roc_auc
from apps.training.models import PromotionRequest
from tests.factories import model_version_install, scorer_dict

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(settings: Any, tmp_path: Path) -> None:
    settings.MODEL_CACHE_DIR = tmp_path / "models"
    model_version_install(1, intercept=0.5)
    candidate = model_version_install(2, champion=False, intercept=1.4)
    PromotionRequest.objects.create(model_version=candidate, evidence={})


@pytest.fixture
def logged(titanic_bytes: bytes) -> None:
    rows = parse_dataset(titanic_bytes).rows
    rng = random.Random(7)
    now = timezone.now()
    InferenceLog.objects.bulk_create(
        InferenceLog(
            request_id=uuid.uuid4(),
            created_at=now - timedelta(seconds=i),
            model_version=1,
            pclass=p["Pclass"],
            sex=p["Sex"],
            age=p["Age"],
            sibsp=p["SibSp"],
            parch=p["Parch"],
            fare=p["Fare"],
            embarked=p["Embarked"],
            prob_survive=0.5,
            label=0,
            latency_ms=1.0,
            true_label=p["Survived"] if rng.random() < 0.3 else None,
        )
        for i, p in enumerate(rows)
    )


def test_it_counts_the_flips_a_direct_recomputation_finds(pair: None, logged: None) -> None:
    before = InferenceLog.objects.count()
    replay = shadow_replay_create(version=2, limit=600)
    assert InferenceLog.objects.count() == before  # the live path's log is untouched

    latest = list(InferenceLog.objects.order_by("-created_at", "-id")[:600])
    features = [row.features() for row in latest]
    candidate = PortableScorer.from_dict(scorer_dict(1.4)).predict_proba(features)
    champion = PortableScorer.from_dict(scorer_dict(0.5)).predict_proba(features)
    flipped = (candidate > 0.5) != (champion > 0.5)
    result = replay.result
    assert replay.rows == result["rows"] == 600
    assert result["flips"] == int(flipped.sum()) > 0
    assert result["agreement"] == pytest.approx(1 - flipped.mean())
    women_first = [i for i, row in enumerate(latest) if row.sex == "female" and row.pclass == 1]
    [segment] = [s for s in result["segments"]["Sex x Pclass"] if s["segment"] == "female / 1"]
    assert segment["rows"] == len(women_first)
    assert segment["flips"] == int(flipped[women_first].sum())
    assert sum(s["flips"] for s in result["segments"]["Embarked"]) == result["flips"]
    assert sum(result["histograms"]["candidate"]) == 600

    labelled = [i for i, row in enumerate(latest) if row.true_label is not None]
    y = np.array([latest[i].true_label for i in labelled])
    assert result["labelled"]["rows"] == len(labelled)
    auc = result["labelled"]["auc"]
    assert auc["candidate_auc"] == pytest.approx(roc_auc(y, candidate[labelled]))
    assert auc["champion_auc"] == pytest.approx(roc_auc(y, champion[labelled]))
    accuracy = result["labelled"]["accuracy"]
    assert accuracy["candidate"] == pytest.approx(np.mean((candidate[labelled] > 0.5) == y))
    assert accuracy["ci_low"] <= accuracy["delta"] <= accuracy["ci_high"]
    assert replay.promotion_request is not None  # stored with the waiting request


def test_it_replays_from_the_command_line(pair: None, logged: None) -> None:
    out = io.StringIO()
    call_command("shadow", "2", "--rows", "100", stdout=out)
    assert "shadow v2 vs champion v1: 100 rows" in out.getvalue()
    assert ShadowReplay.objects.get().rows == 100


def test_it_queues_a_replay_for_the_worker_when_a_candidate_starts_waiting(
    pair: None, django_capture_on_commit_callbacks: Any
) -> None:
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from apps.training.models import PromotionEvent

    with django_capture_on_commit_callbacks(execute=True):
        PromotionEvent.objects.create(
            action="await", reason="gate", actor="gate", from_version=1, to_version=2
        )
    tasks = [SignedPackage.loads(item.payload) for item in OrmQ.objects.all()]
    shadow = [t for t in tasks if t["func"].endswith("shadow_replay_task")]
    assert [t["kwargs"] for t in shadow] == [{"version": 2}]
    assert any(t["func"].endswith("alert_email_send") for t in tasks)  # and people are told


def test_it_replays_everything_since_the_champion_was_promoted(pair: None, logged: None) -> None:
    from apps.training.models import ModelVersion

    cutoff = InferenceLog.objects.order_by("-created_at")[99].created_at
    ModelVersion.objects.filter(version=1).update(champion_since=cutoff)
    replay = shadow_replay_create(version=2, since_champion=True)
    assert replay.rows == InferenceLog.objects.filter(created_at__gte=cutoff).count() == 100
