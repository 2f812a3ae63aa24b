"""Reads of model versions, approval requests and promotion events (bounded query counts)."""

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef

from apps.training.models import ModelVersion, PromotionEvent, PromotionRequest, TrainingRun


def model_version_champion() -> ModelVersion | None:
    """The version serving traffic, from the database (cheap: one indexed row)."""
    return ModelVersion.objects.filter(is_champion=True).first()


def model_version_previous_champion() -> ModelVersion | None:
    """The most recent earlier champion still eligible to serve again (retired, not rolled back)."""
    moves = PromotionEvent.objects.filter(
        action__in=[PromotionEvent.Action.PROMOTE, PromotionEvent.Action.ROLLBACK],
        from_version__isnull=False,
    ).order_by("-id")
    for event in moves:
        if event.from_version is None:  # excluded by the query; this tells the type checker
            continue
        candidate = ModelVersion.objects.filter(
            version=event.from_version, status=ModelVersion.Status.RETIRED
        ).first()
        if candidate is not None:
            return candidate
    return None


EVENTS_PER_PAGE = 20


MODELS_PER_PAGE = 50


def champion_detail() -> ModelVersion | None:
    """The champion with its data version and training run (one query)."""
    return (
        ModelVersion.objects.select_related("data_version", "training_run")
        .filter(is_champion=True)
        .first()
    )


def promotion_pending_count() -> int:
    return PromotionRequest.objects.filter(status=PromotionRequest.Status.PENDING).count()


def model_versions_of_run(run: TrainingRun) -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(training_run=run))


def model_version_page(number: str | None) -> Page:
    """Every version with its data version and whether it holds the challenger alias."""
    pending = PromotionRequest.objects.filter(
        model_version=OuterRef("pk"), status=PromotionRequest.Status.PENDING
    )
    versions = ModelVersion.objects.select_related("data_version").annotate(
        is_challenger=Exists(pending)
    )
    return Paginator(versions, MODELS_PER_PAGE).get_page(number)


@dataclass
class PendingDecision:
    """A candidate waiting for approval, beside the champion it was judged against."""

    request: PromotionRequest
    candidate: ModelVersion
    evidence: dict[str, Any]
    gate_champion_version: int | None
    current_champion: ModelVersion | None
    class_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def champion_changed(self) -> bool:
        current = self.current_champion.version if self.current_champion else None
        return current != self.gate_champion_version


def _class_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    candidate = ((evidence.get("candidate") or {}).get("metrics") or {}).get("per_class", {})
    champion = ((evidence.get("champion") or {}).get("metrics") or {}).get("per_class", {})
    rows = []
    for name in sorted(set(candidate) | set(champion)):
        for metric in ("precision", "recall", "f1"):
            new = candidate.get(name, {}).get(metric)
            old = champion.get(name, {}).get(metric)
            change = new - old if new is not None and old is not None else None
            rows.append(
                {"cls": name, "metric": metric, "candidate": new, "champion": old, "change": change}
            )
    return rows


def promotion_pending_decisions(champion: ModelVersion | None) -> list[PendingDecision]:
    requests = PromotionRequest.objects.select_related(
        "model_version", "model_version__data_version"
    ).filter(status=PromotionRequest.Status.PENDING)
    decisions = []
    for request in requests:
        evidence = request.model_version.gate_evidence or request.evidence or {}
        decisions.append(
            PendingDecision(
                request=request,
                candidate=request.model_version,
                evidence=evidence,
                gate_champion_version=evidence.get("champion_version"),
                current_champion=champion,
                class_rows=_class_rows(evidence),
            )
        )
    return decisions


def promotion_event_page(number: str | None) -> Page:
    return Paginator(PromotionEvent.objects.all(), EVENTS_PER_PAGE).get_page(number)


def rollback_plan() -> tuple[ModelVersion | None, ModelVersion | None]:
    """(current champion, the version a rollback would return to)."""
    return champion_detail(), model_version_previous_champion()
