"""Model versions: registration of a job's winner, the gate, promotion, rejection, rollback."""

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core import bins
from apps.core.crashpoints import crash_point
from apps.portable.scorer import PortableScorer
from apps.training import registry
from apps.training.calibration import calibration_record
from apps.training.gate import GatePolicy, gate_evaluate
from apps.training.holdout import holdout_rows_split
from apps.training.models import ModelVersion, PromotionEvent, PromotionRequest, TrainingRun
from apps.training.results import JobOutcome
from apps.training.selectors.model_versions import (
    model_version_champion,
    model_version_previous_champion,
)
from apps.training.services.holdouts import (
    holdout_judge,
    label_guard_judge,
    model_version_holdout_record,
    reference_holdout_for,
)

logger = logging.getLogger(__name__)


class PromotionError(Exception):
    """A promotion, rejection or rollback cannot be done; the message says why."""


def _gate_policy() -> GatePolicy:
    return GatePolicy(
        min_auc=settings.PROMOTION_MIN_AUC,
        min_auc_delta=settings.PROMOTION_MIN_AUC_DELTA,
        max_class_drop=settings.PROMOTION_MAX_CLASS_DROP,
    )


def model_version_scorer(model_version: ModelVersion) -> PortableScorer:
    """The version's portable scorer, downloaded once and checksum-verified on every load."""
    return registry.scorer_load(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        cache_dir=settings.MODEL_CACHE_DIR,
        name=model_version.name,
        version=model_version.version,
        run_id=model_version.mlflow_run_id,
        sha256=model_version.scorer_sha256,
    )


def model_version_register(*, run: TrainingRun, outcome: JobOutcome) -> ModelVersion:
    """Register the job's winner in two phases: a `registering` row, then a complete candidate."""
    best = outcome.families[outcome.best_family]
    metrics = {**best["metrics"], "per_class": best["per_class"]}
    crash_point("register.before_version")
    number = registry.version_register(
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        name=settings.MLFLOW_MODEL_NAME,
        model_uri=best["model_uri"],
        run_id=best["child_run_id"],
        tags={
            "family": outcome.best_family,
            "training_run_id": str(run.pk),
            "data_version_md5": run.data_version.md5,
            "eval_auc": f"{best['metrics']['eval_auc']:.6f}",
            "scorer_uri": f"runs:/{best['child_run_id']}/{registry.SCORER_ARTIFACT}",
            "scorer_sha256": best["scorer_sha256"],
        },
    )
    crash_point("register.after_version")
    candidate = ModelVersion.objects.create(
        name=settings.MLFLOW_MODEL_NAME,
        version=number,
        training_run=run,
        data_version=run.data_version,
        family=outcome.best_family,
        mlflow_run_id=best["child_run_id"],
        model_uri=best["model_uri"],
        scorer_uri=f"runs:/{best['child_run_id']}/{registry.SCORER_ARTIFACT}",
        scorer_sha256=best["scorer_sha256"],
        best_params=best["best_params"],
        metrics=metrics,
        status=ModelVersion.Status.REGISTERING,
    )
    crash_point("register.row")
    try:
        scorer = model_version_scorer(candidate)  # the files must load before any decision
        _feature_profile_record(candidate, profile=outcome.feature_profile)
        calibration_record(
            model_version=candidate, scores=best["eval_scores"], labels=outcome.evaluation_labels
        )
        _holdout_record(candidate, run=run, outcome=outcome, scorer=scorer)
        evidence, champion, guard_ok = _gate_record(candidate, outcome=outcome)
        crash_point("register.gate")
        candidate.status = ModelVersion.Status.CANDIDATE  # complete: from here on decidable
        candidate.save(update_fields=["status"])
    except Exception as exc:
        model_version_retire_incomplete(
            model_version=candidate, why=f"registration failed: {type(exc).__name__}: {exc}"
        )
        raise
    _model_version_decide(
        candidate, run=run, evidence=evidence, champion=champion, guard_ok=guard_ok
    )
    return candidate


def model_version_retire_incomplete(*, model_version: ModelVersion, why: str) -> ModelVersion:
    """Reject a version whose registration did not complete, recording why; it stays unusable."""
    model_version.status = ModelVersion.Status.REJECTED
    model_version.gate_evidence = {**model_version.gate_evidence, "error": why[:2000]}
    model_version.save(update_fields=["status", "gate_evidence"])
    logger.warning("%s retired: %s", model_version, why)
    return model_version


def model_version_is_complete(model_version: ModelVersion) -> bool:
    """Past `registering`, with a scorer checksum and gate evidence that records no failure."""
    return bool(
        model_version.status != ModelVersion.Status.REGISTERING
        and model_version.scorer_sha256
        and model_version.gate_evidence
        and "error" not in model_version.gate_evidence
    )


def _feature_profile_record(candidate: ModelVersion, *, profile: bins.Baseline | None) -> None:
    """Store the profile Spark aggregated from the training rows; drift compares traffic with it."""
    if not profile or not profile.get("features"):
        raise ValueError("the training job returned no feature profile")
    candidate.feature_profile = profile
    candidate.save(update_fields=["feature_profile"])


def _holdout_record(
    candidate: ModelVersion, *, run: TrainingRun, outcome: JobOutcome, scorer: PortableScorer
) -> None:
    """Score the version on the frozen holdout (frozen now if this is the first registration)."""
    holdout = reference_holdout_for(
        data_version=run.data_version,
        evaluation_rows=outcome.evaluation_rows,
        labels=outcome.evaluation_labels,
    )
    rows, _ = holdout_rows_split(holdout.rows)
    model_version_holdout_record(
        model_version=candidate,
        holdout=holdout,
        scores=scorer.predict_proba(rows),
        excluded=getattr(outcome, "holdout_rows_excluded", 0),
    )


def _holdout_evidence(
    candidate: ModelVersion, champion: ModelVersion | None, evidence: dict[str, Any]
) -> bool:
    """Add the holdout rule and the label guard to `evidence`; True if the guard lets it pass."""
    holdout = candidate.holdout
    if holdout is None:
        return True
    rows, _ = holdout_rows_split(holdout.rows)
    candidate_scores = model_version_scorer(candidate).predict_proba(rows)
    champion_scores = model_version_scorer(champion).predict_proba(rows) if champion else None
    verdict = holdout_judge(
        holdout=holdout, candidate_scores=candidate_scores, champion_scores=champion_scores
    )
    evidence["holdout"] = {
        **verdict.as_dict(),
        "holdout_id": holdout.pk,
        "data_version_id": holdout.data_version_id,
    }
    evidence["reasons"] = [*evidence["reasons"], verdict.reason]
    evidence["passed"] = bool(evidence["passed"] and verdict.passed)
    guard = label_guard_judge(
        data_version=candidate.data_version,
        holdout_verdict=verdict,
        candidate_scores=candidate_scores,
        champion_scores=champion_scores,
    )
    evidence["label_guard"] = guard.as_dict() if guard else None
    logger.info(
        "v%s: %s; label guard: %s",
        candidate.version,
        verdict.reason,
        "; ".join(guard.reasons) if guard else "not label-driven",
    )
    return guard is None or guard.passed


def _guard_note(evidence: dict[str, Any]) -> str:
    failed = [r for r in (evidence.get("label_guard") or {}).get("reasons", []) if "FAIL" in r]
    return "waits for a person (label guard): " + "; ".join(failed) if failed else ""


def feature_profile_publish(*, model_version: ModelVersion) -> None:
    """Write the champion's profile to data/drift_baseline_titanic.json (standard JSON)."""
    if not model_version.feature_profile:
        return
    document = {"model_version": model_version.version, **model_version.feature_profile}
    path = settings.DATA_DIR / settings.DRIFT_BASELINE_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".incoming")
    staging.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False))
    staging.replace(path)


def _gate_record(
    candidate: ModelVersion, *, outcome: JobOutcome
) -> tuple[dict[str, Any], ModelVersion | None, bool]:
    """Run the gate and the holdout rules against the champion; store the evidence.

    Returns the evidence, the champion judged against, and whether the label guard lets an
    automatic promotion through.
    """
    champion = model_version_champion()
    champion_scores = None
    if champion is not None:
        champion_scores = model_version_scorer(champion).predict_proba(outcome.evaluation_rows)
    verdict = gate_evaluate(
        y_true=outcome.evaluation_labels,
        candidate_scores=outcome.best["eval_scores"],
        champion_scores=champion_scores,
        policy=_gate_policy(),
    )
    evidence = {**verdict.as_dict(), "champion_version": champion.version if champion else None}
    guard_ok = _holdout_evidence(candidate, champion, evidence)
    candidate.gate_evidence = evidence
    candidate.save(update_fields=["gate_evidence"])
    return evidence, champion, guard_ok


def _model_version_decide(
    candidate: ModelVersion,
    *,
    run: TrainingRun,
    evidence: dict[str, Any],
    champion: ModelVersion | None,
    guard_ok: bool,
) -> None:
    drift = run.trigger == TrainingRun.Trigger.DRIFT
    if not evidence["passed"]:
        with transaction.atomic():
            candidate.status = ModelVersion.Status.REJECTED
            candidate.save(update_fields=["status"])
            _event(
                PromotionEvent.Action.REJECT,
                PromotionEvent.Reason.GATE,
                "gate",
                champion,
                candidate,
                evidence,
            )
    elif settings.AUTO_PROMOTE_TITANIC and guard_ok:
        reason = PromotionEvent.Reason.DRIFT_RETRAIN if drift else PromotionEvent.Reason.AUTO
        model_version_promote(version=candidate.version, actor="gate", reason=reason)
    else:
        note = _guard_note(evidence) if settings.AUTO_PROMOTE_TITANIC else ""
        with transaction.atomic():
            PromotionRequest.objects.create(model_version=candidate, evidence=evidence, note=note)
            _event(
                PromotionEvent.Action.AWAIT,
                PromotionEvent.Reason.GATE,
                "gate",
                champion,
                candidate,
                evidence,
                note,
            )
            registry.alias_set(
                tracking_uri=settings.MLFLOW_TRACKING_URI,
                name=candidate.name,
                alias=registry.CHALLENGER,
                version=candidate.version,
            )


def _event(
    action: str,
    reason: str,
    actor: str,
    old: ModelVersion | None,
    new: ModelVersion | None,
    evidence: dict[str, Any],
    note: str = "",
) -> PromotionEvent:
    return PromotionEvent.objects.create(
        action=action,
        reason=reason,
        actor=actor[:150],
        from_version=old.version if old else None,
        to_version=new.version if new else None,
        evidence=evidence,
        note=note,
    )


def _requests_decide(target: ModelVersion, status: str, *, actor: str, note: str) -> None:
    """Close the version's pending approval requests with the decision."""
    PromotionRequest.objects.filter(
        model_version=target, status=PromotionRequest.Status.PENDING
    ).update(status=status, decided_by=actor, decided_at=timezone.now(), note=note)


def _champion_move(
    target: ModelVersion, *, old_status: str, action: str, reason: str, actor: str, note: str
) -> ModelVersion:
    """Verify the target's files, then switch champion in the database and, last, the alias."""
    model_version_scorer(target)
    with transaction.atomic():
        old = ModelVersion.objects.select_for_update().filter(is_champion=True).first()
        if old is not None:
            old.status, old.is_champion = old_status, None
            old.save(update_fields=["status", "is_champion"])
        target.status, target.is_champion = ModelVersion.Status.CHAMPION, True
        target.champion_since = timezone.now()
        target.save(update_fields=["status", "is_champion", "champion_since"])
        _requests_decide(target, PromotionRequest.Status.APPROVED, actor=actor, note=note)
        _event(action, reason, actor, old, target, target.gate_evidence, note)
        crash_point("promote.before_alias")
        # Last step inside the transaction: if the registry refuses, nothing above is kept.
        registry.alias_set(
            tracking_uri=settings.MLFLOW_TRACKING_URI,
            name=target.name,
            alias=registry.CHAMPION,
            version=target.version,
        )
        # A kill here leaves the alias ahead of the database: the reaper moves it back.
        crash_point("promote.after_alias")
    # The decision is committed; what follows tidies up and must not undo or mask it.
    try:
        _challenger_alias_clear(target)
        feature_profile_publish(model_version=target)  # the baseline file follows the champion
    except Exception:
        logger.exception("champion v%s: post-promotion housekeeping failed", target.version)
    return target


def _challenger_alias_clear(target: ModelVersion) -> None:
    uri, name = settings.MLFLOW_TRACKING_URI, target.name
    if registry.alias_version(tracking_uri=uri, name=name, alias=registry.CHALLENGER) == (
        target.version
    ):
        registry.alias_delete(tracking_uri=uri, name=name, alias=registry.CHALLENGER)


def _model_version_get(version: int) -> ModelVersion:
    found = ModelVersion.objects.filter(name=settings.MLFLOW_MODEL_NAME, version=version).first()
    if found is None:
        raise PromotionError(f"{settings.MLFLOW_MODEL_NAME} has no version {version}")
    return found


def model_version_promote(
    *,
    version: int,
    actor: str,
    reason: str = PromotionEvent.Reason.APPROVAL,
    note: str = "",
    force: bool = False,
) -> ModelVersion:
    """Make `version` the champion (an approval, the gate's auto-promotion or a manual override)."""
    target = _model_version_get(version)
    if target.status == ModelVersion.Status.CHAMPION:
        raise PromotionError(f"version {version} is already the champion")
    if not model_version_is_complete(target):
        # Not even a manual override: its files or its drift baseline may be missing.
        raise PromotionError(
            f"version {version} is not completely registered ({target.status}, "
            f"{target.gate_evidence.get('error') or 'no gate evidence'}); it can never be promoted"
        )
    if target.status != ModelVersion.Status.CANDIDATE and not force:
        raise PromotionError(
            f"version {version} is {target.status}; promote it anyway with force (manual override)"
        )
    if force and target.status != ModelVersion.Status.CANDIDATE:
        reason = PromotionEvent.Reason.MANUAL
    return _champion_move(
        target,
        old_status=ModelVersion.Status.RETIRED,
        action=PromotionEvent.Action.PROMOTE,
        reason=reason,
        actor=actor,
        note=note,
    )


def model_version_reject(*, version: int, actor: str, note: str = "") -> ModelVersion:
    """Turn down a candidate that waits for approval."""
    target = _model_version_get(version)
    if target.status != ModelVersion.Status.CANDIDATE:
        raise PromotionError(f"version {version} is {target.status}, not a candidate")
    with transaction.atomic():
        target.status = ModelVersion.Status.REJECTED
        target.save(update_fields=["status"])
        _requests_decide(target, PromotionRequest.Status.REJECTED, actor=actor, note=note)
        _event(
            PromotionEvent.Action.REJECT,
            PromotionEvent.Reason.MANUAL,
            actor,
            model_version_champion(),
            target,
            target.gate_evidence,
            note,
        )
    _challenger_alias_clear(target)
    return target


def model_version_rollback(*, actor: str, note: str = "") -> ModelVersion:
    """Move the champion back to the previous champion; the current one is marked rolled back."""
    current = model_version_champion()
    if current is None:
        raise PromotionError("there is no champion to roll back")
    previous = model_version_previous_champion()
    if previous is None:
        raise PromotionError(f"version {current.version} has no earlier champion to return to")
    return _champion_move(
        previous,
        old_status=ModelVersion.Status.ROLLED_BACK,
        action=PromotionEvent.Action.ROLLBACK,
        reason=PromotionEvent.Reason.ROLLBACK,
        actor=actor,
        note=note,
    )
