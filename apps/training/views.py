"""Dashboard pages of training: runs, one run's results, models and promotions.

Views are thin: a selector for what a page shows, one service call for what a button does.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.pages import dashboard_view
from apps.portable.format import ScorerChecksumError
from apps.training import charts, permissions
from apps.training.forms import DecisionForm, RetrainForm
from apps.training.registry import RegistryError
from apps.training.selectors import decisions as gate_decisions
from apps.training.selectors import holdouts, model_versions, training_runs
from apps.training.services.data_versions import TrainingDataError
from apps.training.services.model_versions import (
    PromotionError,
    model_version_promote,
    model_version_reject,
    model_version_rollback,
)
from apps.training.services.training_runs import TrainingRefused, training_run_enqueue

APPROVE_PERMISSION = permissions.APPROVE
RETRAIN_PERMISSION = permissions.START_TRAINING
# What a promotion button can run into; each carries a message meant for people.
DECISION_ERRORS = (PromotionError, RegistryError, ScorerChecksumError)


_approver_only = permission_required(APPROVE_PERMISSION, raise_exception=True)


@dashboard_view
@require_GET
def run_progress(request: HttpRequest) -> JsonResponse:
    """The active job's progress (polled by the overview and the runs page); null when idle."""
    active = training_runs.training_run_active()
    payload: dict[str, Any] = {"active": training_runs.training_run_progress(active)}
    if active is not None:
        payload["phase"] = training_runs.training_run_phase(active)
    return JsonResponse(payload)


@dashboard_view
@require_GET
def runs(request: HttpRequest) -> HttpResponse:
    active = training_runs.training_run_active()
    context = {
        "page": training_runs.training_run_page(request.GET.get("page")),
        "form": RetrainForm(),
        "active_run": active,
        "progress": training_runs.training_run_progress(active),
        "phase": training_runs.training_run_phase(active),
    }
    return render(request, "training/run_list.html", context)


@dashboard_view
@require_POST
@permission_required(RETRAIN_PERMISSION, raise_exception=True)
def retrain(request: HttpRequest) -> HttpResponseRedirect:
    form = RetrainForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"Retrain refused: {field}: {' '.join(map(str, errors))}")
        return redirect("dashboard:runs")
    try:
        run = training_run_enqueue(
            profile=form.cleaned_data["profile"],
            families=form.cleaned_data["families"],
            trigger="dashboard",
            user=request.user,
            force=form.cleaned_data["force"],
        )
    except (TrainingRefused, TrainingDataError) as exc:
        messages.error(request, f"Retrain refused: {exc}")
        return redirect("dashboard:runs")
    messages.success(
        request, f"Training run {run.pk} queued ({run.profile}: {', '.join(run.families)})."
    )
    return redirect("dashboard:run", run_id=run.pk)


@dashboard_view
@require_GET
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = training_runs.training_run_get(run_id)
    if run is None:
        raise Http404("no such training run")
    families = training_runs.training_run_families(run)
    registered = model_versions.model_versions_of_run(run)
    context = {
        "run": run,
        "families": families,
        "metric_rows": training_runs.training_run_metric_table(families),
        "models": registered,
        "decisions": [gate_decisions.model_version_decision(m) for m in registered],
        "holdout": holdouts.reference_holdout_active(),
        "progress": training_runs.training_run_progress(run if run.active else None),
        "phase": training_runs.training_run_phase(run if run.active else None),
        "figures": charts.run_figures(families),
        "per_family": [
            {"family": family, "result": result, **charts.family_figures(family, result)}
            for family, result in families.items()
        ],
    }
    return render(request, "training/run_detail.html", context)


@dashboard_view
@require_GET
def models(request: HttpRequest) -> HttpResponse:
    champion = model_versions.champion_detail()
    decisions = model_versions.promotion_pending_decisions(champion)
    context = {
        "champion": champion,
        "decisions": [
            {
                "decision": d,
                "figure": charts.auc_difference(d.evidence),
                "shadow_figure": charts.shadow_scores(d.request.shadow),
            }
            for d in decisions
        ],
        "versions": model_versions.model_version_page(request.GET.get("page")),
        "events": model_versions.promotion_event_page(request.GET.get("events")),
        "holdout": holdouts.reference_holdout_active(),
        "form": DecisionForm(),
        # Offer a rollback only when there is an earlier champion to return to.
        "previous_champion": gate_decisions.rollback_target_version() if champion else None,
    }
    return render(request, "training/models.html", context)


@dashboard_view
@require_GET
def model_detail(request: HttpRequest, version: int) -> HttpResponse:
    """One version: the gate's decision with its rules, figures and rows, and what moved it."""
    found = gate_decisions.model_version_get(version)
    if found is None:
        raise Http404("no such model version")
    context = {
        "version": found,
        "decision": gate_decisions.model_version_decision(found),
        "events": gate_decisions.promotion_events_of(version),
    }
    return render(request, "training/model_detail.html", context)


def _decide(request: HttpRequest, act: Callable[[str, str], str]) -> HttpResponse:
    """Validate the note, run one promotion service as the signed-in user, report the outcome."""
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not done: {form.errors.as_text()}")
        return redirect("dashboard:models")
    try:
        messages.success(request, act(request.user.get_username(), form.cleaned_data["note"]))
    except DECISION_ERRORS as exc:
        messages.error(request, f"Not done: {exc}")
    return redirect("dashboard:models")


@dashboard_view
@require_POST
@_approver_only
def model_approve(request: HttpRequest, version: int) -> HttpResponse:
    def act(actor: str, note: str) -> str:
        done = model_version_promote(version=version, actor=actor, reason="approval", note=note)
        return f"Version {done.version} is now the champion."

    return _decide(request, act)


@dashboard_view
@require_POST
@_approver_only
def model_reject(request: HttpRequest, version: int) -> HttpResponse:
    def act(actor: str, note: str) -> str:
        done = model_version_reject(version=version, actor=actor, note=note)
        return f"Version {done.version} was rejected."

    return _decide(request, act)


@dashboard_view
@require_http_methods(["GET", "POST"])
@_approver_only
def model_rollback(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation (what moves where); POST rolls back."""
    if request.method == "POST":

        def act(actor: str, note: str) -> str:
            done = model_version_rollback(actor=actor, note=note)
            return f"Rolled back: version {done.version} is the champion again."

        return _decide(request, act)
    current, previous = model_versions.rollback_plan()
    context = {"current": current, "previous": previous, "form": DecisionForm()}
    return render(request, "training/rollback_confirm.html", context)
