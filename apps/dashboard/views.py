"""Pages of the shell: the overview across all floors, data lineage, and the plotly asset."""

import importlib.util
from functools import cache
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.pages import dashboard_view
from apps.dashboard import lineage
from apps.dashboard.charts import overview_figures
from apps.monitoring.selectors import (
    drift_incident_history,
    drift_incident_open,
    drift_report_latest_light,
)
from apps.serving.selectors.inference_log import traffic_summary
from apps.training.selectors import data_versions, model_versions, training_runs
from apps.training.selectors.decisions import model_version_latest_decision
from apps.training.selectors.mlflow_ui import mlflow_ui_status

ASSET_MAX_AGE = 365 * 24 * 3600
CHART_SLOTS = [
    ("traffic", "Requests per hour"),
    ("latency", "Latency per hour"),
    ("psi", "PSI per feature"),
    ("accuracy", "Realised accuracy"),
    ("estimate", "Estimated accuracy without labels"),
]


@dashboard_view
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    active = training_runs.training_run_active()
    incident = drift_incident_open()
    events = drift_incident_history(incident, limit=3) if incident else []
    context = {
        "chart_slots": CHART_SLOTS,
        "open_incident": incident,
        "incident_last_event": events[-1] if events else None,
        "champion": model_versions.champion_detail(),
        "traffic": traffic_summary(hours=24),
        "drift": drift_report_latest_light(),
        "active_run": active,
        "progress": training_runs.training_run_progress(active),
        "phase": training_runs.training_run_phase(active),
        "pending_count": model_versions.promotion_pending_count(),
        "latest_decision": model_version_latest_decision(),
        "mlflow_ui": mlflow_ui_status(),
    }
    context["nav_pending"] = context["pending_count"]  # the layout's badge: counted once
    return render(request, "dashboard/overview.html", context)


@dashboard_view
@require_GET
def overview_charts(request: HttpRequest) -> JsonResponse:
    """The overview's figures, fetched after the page so the page itself stays cheap."""
    return JsonResponse(overview_figures())


@dashboard_view
@require_GET
def data_list(request: HttpRequest) -> HttpResponse:
    context = {"rows": lineage.data_version_rows()}
    return render(request, "dashboard/data_list.html", context)


@dashboard_view
@require_GET
def data_detail(request: HttpRequest, data_version_id: int) -> HttpResponse:
    data_version = data_versions.data_version_get(data_version_id)
    if data_version is None:
        raise Http404("no such data version")
    context = {
        "dv": data_version,
        "lineage": lineage.data_version_lineage(data_version),
        "children": data_versions.data_version_children(data_version),
        "summary": data_version.summary,
        "origin": lineage.data_version_origin(data_version),
    }
    return render(request, "dashboard/data_detail.html", context)


@cache
def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed `plotly` package (found, not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise Http404("the plotly package is not installed")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@require_GET
def plotly_js(request: HttpRequest) -> FileResponse:
    """Serve plotly.js offline; the URL carries the package version, so cache it for a year."""
    path = plotly_js_path()
    if not path.exists():
        raise Http404("plotly.min.js is missing from the plotly package")
    response = FileResponse(path.open("rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}, immutable"
    return response
