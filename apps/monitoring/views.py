"""Dashboard pages of drift monitoring: PSI over time, reports, incidents and their handling."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.core.pages import dashboard_view
from apps.monitoring import charts, permissions, selectors
from apps.monitoring.services.incidents import IncidentError, drift_incident_acknowledge

ACKNOWLEDGE_PERMISSION = permissions.ACKNOWLEDGE_INCIDENT


class AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


@dashboard_view
@require_GET
def drift(request: HttpRequest) -> HttpResponse:
    history = selectors.drift_report_history()
    threshold, critical = selectors.drift_thresholds(history)
    incident = selectors.drift_incident_open()
    context = {
        "page": selectors.drift_report_page(request.GET.get("page")),
        "psi_figure": charts.psi_over_time(history, threshold=threshold, critical=critical)
        if history
        else None,
        "threshold": threshold,
        "critical": critical,
        "history_count": len(history),
        **_performance_context(),
        "open_incident": incident,
        "incident_events": selectors.drift_incident_history(incident) if incident else [],
        "incidents": selectors.drift_incidents_recent(),
        "ack_form": AcknowledgeForm(),
    }
    return render(request, "monitoring/drift.html", context)


def _performance_context() -> dict[str, Any]:
    history = selectors.performance_history()
    return {
        "performance_figure": charts.performance_over_time(history) if history else None,
        "perf": history[-1]["performance"] if history else None,
        "perf_rows": selectors.performance_rows(history[-1]["performance"] if history else None),
    }


@dashboard_view
@require_GET
def drift_incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = selectors.drift_incident_get(incident_id)
    if incident is None:
        raise Http404("no such drift incident")
    context = {
        "incident": incident,
        "events": selectors.drift_incident_history(incident),
        "ack_form": AcknowledgeForm(),
    }
    return render(request, "monitoring/incident_detail.html", context)


@dashboard_view
@require_POST
@permission_required(ACKNOWLEDGE_PERMISSION, raise_exception=True)
def drift_incident_ack(request: HttpRequest, incident_id: int) -> HttpResponse:
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not acknowledged: a note is required.")
        return redirect("dashboard:drift-incident", incident_id=incident_id)
    try:
        drift_incident_acknowledge(
            incident_id=incident_id,
            actor=request.user.get_username(),
            note=form.cleaned_data["note"],
        )
        messages.success(request, f"Drift incident {incident_id} acknowledged.")
    except IncidentError as exc:
        messages.error(request, f"Not acknowledged: {exc}")
    return redirect("dashboard:drift-incident", incident_id=incident_id)


@dashboard_view
@require_GET
def drift_report(request: HttpRequest, report_id: int) -> HttpResponse:
    report = selectors.drift_report_get(report_id)
    if report is None:
        raise Http404("no such drift report")
    features = [
        {"name": name, "doc": doc, "figure": charts.distribution_pair(name, doc)}
        for name, doc in (report.features or {}).items()
    ]
    prediction = report.prediction or {}
    context = {
        "report": report,
        "features": features,
        "perf": report.performance or {},
        "perf_rows": selectors.performance_rows(report.performance),
        "prediction": prediction,
        "prediction_figure": charts.distribution_pair("score (prediction)", prediction)
        if prediction.get("labels")
        else None,
    }
    return render(request, "monitoring/report_detail.html", context)
