"""Dashboard pages of drift monitoring: PSI over time, the report list, one report's bins."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from apps.monitoring import charts
from apps.monitoring import dashboard_selectors as selectors
from apps.training.dashboard import dashboard_view, page_render


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
    }
    return page_render(request, "monitoring/drift.html", context)


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
    context = {"report": report, "features": features}
    return page_render(request, "monitoring/report_detail.html", context)
