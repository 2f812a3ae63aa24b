"""The promotion gate's policy (DESIGN.md section 5): AUC floor and gain, per-class guard rails.

The statistics come from `apps.training.metrics`; this module only decides and explains.
"""

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from apps.training.metrics import (
    AucDifference,
    auc_difference,
    class_metrics,
    labels_array,
    roc_auc,
    scores_array,
)
from apps.training.results import EvaluationMetrics

# AUCs, precisions and recalls are ratios of integer counts; a value that sits exactly on a policy
# boundary in exact arithmetic must not flip to the other side through float rounding.
_EPS = 1e-12
CLASSES = ("0", "1")
GUARDED_METRICS: tuple[Literal["precision", "recall"], ...] = ("precision", "recall")


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds of the promotion gate; the defaults are the seed policy."""

    min_auc: float = 0.75
    min_auc_delta: float = 0.005
    max_class_drop: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_auc <= 1.0:
            raise ValueError(f"min_auc must be in [0, 1], got {self.min_auc}")
        if not -1.0 <= self.min_auc_delta <= 1.0:
            raise ValueError(f"min_auc_delta must be in [-1, 1], got {self.min_auc_delta}")
        if not 0.0 <= self.max_class_drop <= 1.0:
            raise ValueError(f"max_class_drop must be in [0, 1], got {self.max_class_drop}")


@dataclass(frozen=True)
class GateVerdict:
    """Outcome of the gate with the evidence behind it."""

    passed: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    policy: GatePolicy
    n_rows: int
    n_positives: int
    candidate_auc: float
    candidate_metrics: EvaluationMetrics
    champion_auc: float | None = None
    champion_metrics: EvaluationMetrics | None = None
    difference: AucDifference | None = None
    class_drops: dict[str, dict[str, float]] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable evidence (lists, dicts, str, int, float, bool, None)."""
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "policy": asdict(self.policy),
            "n_rows": self.n_rows,
            "n_positives": self.n_positives,
            "candidate": {"auc": self.candidate_auc, "metrics": self.candidate_metrics},
            "champion": (
                None
                if self.champion_auc is None
                else {"auc": self.champion_auc, "metrics": self.champion_metrics}
            ),
            "difference": None if self.difference is None else self.difference.as_dict(),
            "class_drops": self.class_drops,
        }


def _class_drops(
    candidate: EvaluationMetrics, champion: EvaluationMetrics
) -> dict[str, dict[str, float]]:
    return {
        name: {
            metric: champion["per_class"][name][metric] - candidate["per_class"][name][metric]
            for metric in GUARDED_METRICS
        }
        for name in CLASSES
    }


def _drop_reasons(
    drops: dict[str, dict[str, float]],
    candidate: EvaluationMetrics,
    champion: EvaluationMetrics,
    tolerance: float,
) -> tuple[list[str], bool]:
    failures = []
    for name in CLASSES:
        for metric in GUARDED_METRICS:
            if drops[name][metric] > tolerance + _EPS:
                before = champion["per_class"][name][metric]
                after = candidate["per_class"][name][metric]
                failures.append(
                    f"FAIL class {name} {metric} dropped by {drops[name][metric]:.4f} "
                    f"({before:.4f} -> {after:.4f}), more than max_class_drop {tolerance:.4f}"
                )
    if failures:
        return failures, False
    worst_class, worst_metric = max(
        ((name, metric) for name in CLASSES for metric in GUARDED_METRICS),
        key=lambda key: drops[key[0]][key[1]],
    )
    worst = drops[worst_class][worst_metric]
    return [
        f"PASS no per-class precision or recall drop above max_class_drop {tolerance:.4f} "
        f"(worst change: class {worst_class} {worst_metric} {-worst:+.4f})"
    ], True


def _noise_note(difference: AucDifference) -> list[str]:
    if difference.ci_low <= 0.0 <= difference.ci_high:
        return [
            f"AUC delta {difference.delta:+.4f} is within 1.96 SE (SE {difference.se:.4f}, "
            f"95% CI [{difference.ci_low:+.4f}, {difference.ci_high:+.4f}]): "
            "not distinguishable from noise on this split"
        ]
    return []


def _gate_without_champion(
    labels: npt.NDArray[np.bool_], candidate: npt.NDArray[np.float64], policy: GatePolicy
) -> GateVerdict:
    auc = roc_auc(labels, candidate)
    passed = auc >= policy.min_auc - _EPS
    verdict = "PASS" if passed else "FAIL"
    relation = ">=" if passed else "<"
    return GateVerdict(
        passed=passed,
        reasons=(
            f"{verdict} candidate AUC {auc:.4f} {relation} min_auc {policy.min_auc:.4f} "
            "(no champion to compare with)",
        ),
        notes=(),
        policy=policy,
        n_rows=int(labels.size),
        n_positives=int(labels.sum()),
        candidate_auc=auc,
        candidate_metrics=class_metrics(labels, candidate),
    )


def _gate_against_champion(
    labels: npt.NDArray[np.bool_],
    candidate: npt.NDArray[np.float64],
    champion: npt.NDArray[np.float64],
    policy: GatePolicy,
) -> GateVerdict:
    difference = auc_difference(labels, candidate, champion)
    gain_ok = difference.delta >= policy.min_auc_delta - _EPS
    relation = ">=" if gain_ok else "<"
    gain_reason = (
        f"{'PASS' if gain_ok else 'FAIL'} AUC gain {difference.delta:+.4f} {relation} "
        f"min_auc_delta {policy.min_auc_delta:.4f} (candidate {difference.candidate_auc:.4f} "
        f"vs champion {difference.champion_auc:.4f}, SE {difference.se:.4f}, "
        f"p={difference.p_value:.3g})"
    )
    candidate_metrics = class_metrics(labels, candidate)
    champion_metrics = class_metrics(labels, champion)
    drops = _class_drops(candidate_metrics, champion_metrics)
    drop_reasons, drops_ok = _drop_reasons(
        drops, candidate_metrics, champion_metrics, policy.max_class_drop
    )
    return GateVerdict(
        passed=gain_ok and drops_ok,
        reasons=(gain_reason, *drop_reasons),
        notes=tuple(_noise_note(difference)),
        policy=policy,
        n_rows=difference.n_rows,
        n_positives=difference.n_positives,
        candidate_auc=difference.candidate_auc,
        candidate_metrics=candidate_metrics,
        champion_auc=difference.champion_auc,
        champion_metrics=champion_metrics,
        difference=difference,
        class_drops=drops,
    )


def gate_evaluate(
    *,
    y_true: npt.ArrayLike,
    candidate_scores: npt.ArrayLike,
    champion_scores: npt.ArrayLike | None = None,
    policy: GatePolicy,
) -> GateVerdict:
    """Judge a candidate alone (AUC floor) or against the champion scored on the same rows."""
    labels = labels_array(y_true)
    candidate = scores_array(candidate_scores, labels.size, "candidate_scores")
    if champion_scores is None:
        return _gate_without_champion(labels, candidate, policy)
    champion = scores_array(champion_scores, labels.size, "champion_scores")
    return _gate_against_champion(labels, candidate, champion, policy)


@dataclass(frozen=True)
class HoldoutVerdict:
    """The gate's frozen-holdout rule: no AUC regression beyond a tolerance on the same rows."""

    passed: bool
    reason: str
    max_auc_drop: float
    n_rows: int
    candidate_auc: float
    champion_auc: float | None
    auc_drop: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate_holdout_evaluate(
    *,
    y_true: npt.ArrayLike,
    candidate_scores: npt.ArrayLike,
    champion_scores: npt.ArrayLike | None = None,
    max_auc_drop: float,
    rows_label: str = "frozen holdout",
) -> HoldoutVerdict:
    """Candidate holdout AUC must be >= champion holdout AUC - `max_auc_drop`."""
    if not 0.0 <= max_auc_drop <= 1.0:
        raise ValueError(f"max_auc_drop must be in [0, 1], got {max_auc_drop}")
    labels = labels_array(y_true)
    candidate_auc = roc_auc(labels, scores_array(candidate_scores, labels.size, "candidate_scores"))
    if champion_scores is None:
        return HoldoutVerdict(
            passed=True,
            reason=f"PASS {rows_label} AUC {candidate_auc:.4f} (no champion to compare with)",
            max_auc_drop=max_auc_drop,
            n_rows=int(labels.size),
            candidate_auc=candidate_auc,
            champion_auc=None,
            auc_drop=None,
        )
    champion_auc = roc_auc(labels, scores_array(champion_scores, labels.size, "champion_scores"))
    drop = champion_auc - candidate_auc
    passed = drop <= max_auc_drop + _EPS
    return HoldoutVerdict(
        passed=passed,
        reason=(
            f"{'PASS' if passed else 'FAIL'} {rows_label} AUC {candidate_auc:.4f} vs champion "
            f"{champion_auc:.4f} on the same {labels.size} rows (drop {drop:+.4f} "
            f"{'<=' if passed else '>'} max_holdout_auc_drop {max_auc_drop:.4f})"
        ),
        max_auc_drop=max_auc_drop,
        n_rows=int(labels.size),
        candidate_auc=candidate_auc,
        champion_auc=champion_auc,
        auc_drop=drop,
    )
