"""The frozen reference holdout: freeze it from a job's evaluation split, or designate one."""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.core.features import LABEL
from apps.training.gate import HoldoutVerdict, gate_holdout_evaluate
from apps.training.holdout import (
    LabelGuardPolicy,
    LabelGuardVerdict,
    canonical_row,
    flip_rate,
    holdout_rows_split,
    holdout_score,
    label_guard_evaluate,
    row_key,
)
from apps.training.models import DataVersion, ModelVersion, ReferenceHoldout

logger = logging.getLogger(__name__)


class HoldoutError(Exception):
    """A holdout cannot be designated (unknown data version, no rows of both classes)."""


def reference_holdout_freeze(
    *,
    data_version: DataVersion,
    rows: list[dict[str, Any]],
    origin: str = ReferenceHoldout.Origin.FIRST_VERSION,
    actor: str = "",
) -> ReferenceHoldout:
    """Store `rows` (features + Survived) as the holdout in force; the previous one retires."""
    stored = [canonical_row(row) for row in rows]
    positives = sum(row[LABEL.name] for row in stored)
    if not stored or positives in (0, len(stored)):
        raise HoldoutError("a holdout needs rows of both classes to measure AUC on")
    with transaction.atomic():
        ReferenceHoldout.objects.filter(is_active=True).update(is_active=None)
        holdout = ReferenceHoldout.objects.create(
            data_version=data_version,
            origin=origin,
            designated_by=actor[:150],
            rows=stored,
            row_keys=[row_key(row) for row in stored],
            n_rows=len(stored),
            n_positives=positives,
            is_active=True,
        )
    logger.info("%s frozen (%s)", holdout, origin)
    return holdout


def reference_holdout_for(
    *, data_version: DataVersion, evaluation_rows: list[dict[str, Any]], labels: list[int]
) -> ReferenceHoldout:
    """The holdout in force; the first registration freezes its own evaluation split as it."""
    holdout = ReferenceHoldout.objects.filter(is_active=True).select_related("data_version").first()
    if holdout is not None:
        return holdout
    rows = [{**row, LABEL.name: label} for row, label in zip(evaluation_rows, labels, strict=True)]
    return reference_holdout_freeze(data_version=data_version, rows=rows)


def model_version_holdout_record(
    *, model_version: ModelVersion, holdout: ReferenceHoldout, scores: Any, excluded: int
) -> dict[str, Any]:
    """Store the version's scores on the holdout; they compare across data versions."""
    _, labels = holdout_rows_split(holdout.rows)
    evaluation = {
        **holdout_score(y_true=labels, scores=scores).as_dict(),
        "holdout_id": holdout.pk,
        "data_version_id": holdout.data_version_id,
        "rows_label": str(holdout),
        "training_rows_excluded": excluded,
    }
    model_version.holdout, model_version.holdout_evaluation = holdout, evaluation
    model_version.save(update_fields=["holdout", "holdout_evaluation"])
    return evaluation


def holdout_judge(
    *, holdout: ReferenceHoldout, candidate_scores: Any, champion_scores: Any | None
) -> HoldoutVerdict:
    """The gate's frozen-holdout rule with the configured tolerance."""
    _, labels = holdout_rows_split(holdout.rows)
    return gate_holdout_evaluate(
        y_true=labels,
        candidate_scores=candidate_scores,
        champion_scores=champion_scores,
        max_auc_drop=settings.PROMOTION_MAX_HOLDOUT_AUC_DROP,
        rows_label=str(holdout),
    )


def label_guard_judge(
    *,
    data_version: DataVersion,
    holdout_verdict: HoldoutVerdict,
    candidate_scores: Any,
    champion_scores: Any | None,
) -> LabelGuardVerdict | None:
    """Bounds for a candidate trained on labelled inference rows; None for other candidates."""
    parent = data_version.parent
    if data_version.labelled_rows_added <= 0 or parent is None:
        return None
    flips = None if champion_scores is None else flip_rate(candidate_scores, champion_scores)
    return label_guard_evaluate(
        new_rows=data_version.labelled_rows_added,
        new_positives=data_version.positives - parent.positives,
        base_rows=parent.rows,
        base_positives=parent.positives,
        holdout_auc_drop=holdout_verdict.auc_drop,
        holdout_flip_rate=flips,
        policy=LabelGuardPolicy(
            max_balance_shift=settings.LABEL_GUARD_MAX_BALANCE_SHIFT,
            max_holdout_auc_drop=settings.LABEL_GUARD_MAX_HOLDOUT_AUC_DROP,
            max_holdout_flip_rate=settings.LABEL_GUARD_MAX_HOLDOUT_FLIP_RATE,
        ),
    )
