"""Per drift window: the champion's estimated performance, realised figures, prediction drift."""

from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings

from apps.core import bins
from apps.monitoring import estimation, psi
from apps.serving.models import InferenceLog
from apps.training.calibration import SCORE
from apps.training.models import ModelVersion


def _reference(champion: ModelVersion) -> dict[str, float | None]:
    """The evaluation-time figures the estimate is compared with."""
    metrics = champion.metrics or {}
    positive = (metrics.get("per_class") or {}).get("1") or {}
    return {
        "accuracy": metrics.get("eval_accuracy"),
        "precision": positive.get("precision", metrics.get("eval_precision_1")),
        "recall": positive.get("recall", metrics.get("eval_recall_1")),
        "auc": metrics.get("eval_auc"),
    }


def _prediction_drift(profile: bins.Baseline, scores: np.ndarray) -> dict[str, Any]:
    """PSI of the window's scores against the evaluation scores, with its own noise floor."""
    feature = profile["features"][SCORE]
    counts = bins.bin_counts(feature, scores.tolist())
    result = psi.drift_evaluate(
        profile,
        {SCORE: counts},
        threshold=settings.PSI_THRESHOLD,
        critical=settings.PSI_CRITICAL,
        min_rows=settings.MIN_INFER_ROWS,
    )
    item = result.features[0] if result.features else None
    return {
        "verdict": result.verdict,
        "psi": item.psi if item else None,
        "floor": item.floor if item else None,
        "drifted": bool(item and item.drifted),
        "labels": feature["labels"],
        "expected": feature["proportions"],
        "actual": (counts / max(int(counts.sum()), 1)).tolist(),
    }


def performance_window(
    *, champion: ModelVersion, start: datetime, end: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Estimated and realised performance, and prediction drift, of the champion's window."""
    calibration = champion.calibration or {}
    if calibration.get("method") is None:
        why = calibration.get("error", "registered before calibration existed")
        return {"error": f"this version has no calibration ({why})"}, {}
    logged = np.array(
        InferenceLog.objects.filter(
            model_version=champion.version, created_at__gt=start, created_at__lte=end
        )
        .order_by()
        .values_list("prob_survive", "label", "true_label"),
        dtype=np.float64,
    ).reshape(-1, 3)
    scores, served, truth = logged[:, 0], logged[:, 1], logged[:, 2]
    if scores.size < settings.MIN_INFER_ROWS:
        return {"error": f"{scores.size} rows: too few to estimate"}, {}
    reference = _reference(champion)
    estimate = estimation.performance_estimate(calibration, scores, served)
    labelled = ~np.isnan(truth)
    realised = (
        estimation.performance_realised(truth[labelled], scores[labelled], served[labelled])
        if labelled.any()
        else None
    )
    tolerance = settings.PERFORMANCE_DROP_TOLERANCE
    drops = estimation.estimated_drop(
        estimate, {k: reference[k] for k in ("accuracy", "auc")}, tolerance
    )
    performance = {
        "estimate": estimate,
        "realised": realised,
        "reference": reference,
        "tolerance": tolerance,
        "drops": drops,
        "calibration": {"method": calibration["method"], "n_rows": calibration.get("n_rows")},
    }
    profile = calibration.get("score_profile")
    prediction = _prediction_drift(profile, scores) if profile else {}
    return performance, prediction
