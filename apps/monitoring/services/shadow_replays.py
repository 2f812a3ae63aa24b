"""Shadow replay: score recent logged requests with a candidate and the champion, read-only."""

import time
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.core.features import LOG_COLUMNS
from apps.monitoring.models import ShadowReplay
from apps.monitoring.shadow import shadow_compare
from apps.serving.models import InferenceLog
from apps.training.models import ModelVersion, PromotionRequest
from apps.training.selectors.model_versions import model_version_champion
from apps.training.services.model_versions import model_version_scorer


class ShadowReplayError(Exception):
    """A replay cannot run; the message says why."""


def _logged_rows(
    limit: int | None, since: datetime | None
) -> tuple[list[dict[str, Any]], list[int | None]]:
    """The latest logged requests as API feature dicts, with their labels if known."""
    columns = list(LOG_COLUMNS.values())
    recent = InferenceLog.objects.order_by("-created_at", "-id")
    if since is not None:
        recent = recent.filter(created_at__gte=since)
    logged = recent.values_list(*columns, "true_label")
    if limit is not None:
        logged = logged[:limit]
    names = list(LOG_COLUMNS)
    rows, labels = [], []
    for values in logged:
        rows.append(dict(zip(names, values[:-1], strict=True)))
        labels.append(values[-1])
    return rows, labels


def shadow_replay_create(
    *, version: int, limit: int | None = None, since_champion: bool = False
) -> ShadowReplay:
    """Score recent requests with `version` and the champion: the last N, or all since promotion."""
    candidate = ModelVersion.objects.filter(
        name=settings.MLFLOW_MODEL_NAME, version=version
    ).first()
    if candidate is None:
        raise ShadowReplayError(f"{settings.MLFLOW_MODEL_NAME} has no version {version}")
    champion = model_version_champion()
    if champion is None or champion.pk == candidate.pk:
        raise ShadowReplayError("a shadow replay needs a champion other than the candidate")
    started = time.perf_counter()
    if since_champion:
        rows, labels = _logged_rows(limit, champion.champion_since)
    else:
        rows, labels = _logged_rows(limit or settings.SHADOW_REPLAY_ROWS, None)
    # Scorers are called directly: nothing here touches the serving cache or the inference log.
    candidate_scores = model_version_scorer(candidate).predict_proba(rows)
    champion_scores = model_version_scorer(champion).predict_proba(rows)
    result = shadow_compare(rows, candidate_scores, champion_scores, labels)
    request = candidate.requests.filter(status=PromotionRequest.Status.PENDING).first()
    replay = ShadowReplay.objects.create(
        candidate_version=candidate.version,
        champion_version=champion.version,
        promotion_request=request,
        rows=len(rows),
        result=result,
        seconds=time.perf_counter() - started,
    )
    if request is not None:
        request.shadow = {
            **result,
            "replay_id": replay.pk,
            "champion_version": champion.version,
            "created_at": replay.created_at.isoformat(),
        }
        request.save(update_fields=["shadow"])
    return replay


def shadow_replay_task(*, version: int) -> int | None:
    """The worker's entry: replay a waiting candidate; a missing champion is not an error."""
    try:
        return shadow_replay_create(version=version).pk
    except ShadowReplayError:
        return None
