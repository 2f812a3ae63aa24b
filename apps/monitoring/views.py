"""Dashboard pages of drift monitoring: PSI over time, the report list, one report's bins."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.pages import dashboard_view
from apps.monitoring import charts, selectors


@dashboard_view
@require_GET
def drift(request: HttpRequest) -> HttpResponse:
    history = selectors.drift_report_history()
    threshold, critical = selectors.drift_thresholds(history)
    context = {
        "page": selectors.drift_report_page(request.GET.get("page")),
        "psi_figure": charts.psi_over_time(history, threshold=threshold, critical=critical)
        if history
        else None,
        "threshold": threshold,
        "critical": critical,
        "history_count": len(history),
        **_performance_context(),
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
