"""Reads that explain gate decisions: the outcome, its rules, its figures and their rows."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from apps.training.models import ModelVersion, PromotionEvent
from apps.training.selectors.model_versions import _class_rows


@dataclass(frozen=True)
class GateDecision:
    """What the promotion gate decided for one version, and on which rows."""

    version: ModelVersion
    outcome: str  # passed | failed | waiting | error | none
    label: str
    evidence: dict[str, Any]
    rows_label: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    class_rows: list[dict[str, Any]] = field(default_factory=list)
    # The frozen reference holdout's figures, once versions are also scored on it (DESIGN.md 9).
    holdout_label: str | None = None

    @property
    def headline(self) -> str:
        """The reason that decided: the first failed rule, else the first rule."""
        failed = [reason for reason in self.reasons if reason.startswith("FAIL")]
        return (failed or self.reasons or [self.label])[0]

    @property
    def compared_with(self) -> int | None:
        return self.evidence.get("champion_version")


def _outcome(version: ModelVersion, evidence: dict[str, Any]) -> tuple[str, str]:
    if "error" in evidence:
        return "error", f"not judged: {evidence['error']}"
    if "passed" not in evidence:
        return "none", "no gate decision recorded"
    if not evidence["passed"]:
        return "failed", "rejected by the gate"
    if version.status == ModelVersion.Status.CANDIDATE:
        return "waiting", "passed the gate, waiting for a person's approval"
    if version.status == ModelVersion.Status.REJECTED:
        return "passed", "passed the gate, rejected by a person"
    return "passed", "passed the gate and was promoted"


def evaluation_rows_label(version: ModelVersion, evidence: dict[str, Any]) -> str:
    """Which rows the gate's AUCs come from (each version has its own evaluation split)."""
    rows = evidence.get("n_rows")
    if rows is None:
        return f"evaluation split of data v{version.data_version_id}"
    positives = evidence.get("n_positives")
    survivors = f" ({positives} survivors)" if positives is not None else ""
    return f"evaluation split of data v{version.data_version_id}, {rows} rows{survivors}"


def model_version_decision(version: ModelVersion) -> GateDecision:
    evidence = version.gate_evidence or {}
    outcome, label = _outcome(version, evidence)
    return GateDecision(
        version=version,
        outcome=outcome,
        label=label,
        evidence=evidence,
        rows_label=evaluation_rows_label(version, evidence),
        reasons=list(evidence.get("reasons", [])),
        notes=list(evidence.get("notes", [])),
        class_rows=_class_rows(evidence),
    )


def model_version_get(version: int) -> ModelVersion | None:
    return (
        ModelVersion.objects.select_related("data_version", "training_run")
        .filter(version=version)
        .first()
    )


def model_version_latest_decision() -> GateDecision | None:
    """The newest registered version's decision, for the overview."""
    latest = ModelVersion.objects.order_by("-created_at", "-id").first()
    return model_version_decision(latest) if latest else None


def promotion_events_of(version: int, limit: int = 20) -> list[PromotionEvent]:
    """The latest promotions, rejections and rollbacks that moved this version."""
    moved = PromotionEvent.objects.filter(Q(to_version=version) | Q(from_version=version))
    return list(moved[:limit])


def rollback_target_version() -> int | None:
    """The version a rollback would return to (as `model_version_previous_champion`), one query."""
    retired = ModelVersion.objects.filter(status=ModelVersion.Status.RETIRED).values("version")
    moves = PromotionEvent.objects.filter(
        action__in=[PromotionEvent.Action.PROMOTE, PromotionEvent.Action.ROLLBACK],
        from_version__in=retired,
    )
    return moves.order_by("-id").values_list("from_version", flat=True).first()
